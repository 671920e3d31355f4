"""automation_modelversion rows never change once written: the database refuses UPDATE (apps/core/immutable.py)."""

from django.db import migrations

from apps.core.immutable import refuse_updates


class Migration(migrations.Migration):
    dependencies = [("automation", "0001_initial")]

    operations = [migrations.RunPython(*refuse_updates("automation_modelversion"))]
