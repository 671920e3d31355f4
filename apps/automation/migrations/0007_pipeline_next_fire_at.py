# A schedule trigger's next firing, and the partial index the periodic sweep reads it through.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("automation", "0006_noderun_waiting"),
    ]

    operations = [
        migrations.AddField(
            model_name="pipeline",
            name="next_fire_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="pipeline",
            index=models.Index(condition=models.Q(("next_fire_at__isnull", False)), fields=["next_fire_at"],
                               name="pipeline_next_fire"),
        ),
    ]
