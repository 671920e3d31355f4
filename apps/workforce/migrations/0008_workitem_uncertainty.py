# A model's uncertainty about a unit's item (set by a pipeline's route node), and the pull-queue index that serves it:
# priority, due date, uncertainty (most uncertain first), id. The column's constant default needs no table rewrite.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("workforce", "0007_gold_retake"),
    ]

    operations = [
        migrations.AddField(
            model_name="workitem",
            name="uncertainty",
            field=models.FloatField(db_default=0.0, default=0.0),
        ),
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(condition=models.Q(("state", "queued")),
                               fields=["task", "stage", "-priority", "due_at", "-uncertainty", "id"],
                               name="workitem_queue_uncertainty"),
        ),
        migrations.RemoveIndex(model_name="workitem", name="workitem_queue"),
    ]
