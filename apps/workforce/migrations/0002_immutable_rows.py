"""The work log is append-only: the database refuses UPDATE on workforce_workevent (apps/core/immutable.py)."""

from django.db import migrations

from apps.core.immutable import refuse_updates


class Migration(migrations.Migration):
    dependencies = [("workforce", "0001_initial")]

    operations = [migrations.RunPython(*refuse_updates("workforce_workevent"))]
