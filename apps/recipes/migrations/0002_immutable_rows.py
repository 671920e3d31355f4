"""recipes_recipeversion rows never change once written: the database refuses UPDATE (apps/core/immutable.py)."""

from django.db import migrations

from apps.core.immutable import refuse_updates


class Migration(migrations.Migration):
    dependencies = [("recipes", "0001_initial")]

    operations = [migrations.RunPython(*refuse_updates("recipes_recipeversion"))]
