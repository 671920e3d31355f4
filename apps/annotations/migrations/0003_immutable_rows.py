"""annotations_annotationrevision rows never change once written: the database refuses UPDATE (apps/core/immutable.py)."""

from django.db import migrations

from apps.core.immutable import refuse_updates


class Migration(migrations.Migration):
    dependencies = [("annotations", "0002_initial")]

    operations = [migrations.RunPython(*refuse_updates("annotations_annotationrevision"))]
