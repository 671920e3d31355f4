# A revoked qualification is retaken: Qualification.revoked_at, and a gold unit may be served again to the same
# person (routing.serve_gold).

from django.db import migrations, models

PEOPLE = ("task", "item", "stage", "assignee")


class Migration(migrations.Migration):

    dependencies = [
        ("workforce", "0006_review_rounds"),
    ]

    operations = [
        migrations.AddField(
            model_name="qualification",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True, help_text=(
                "When a quality threshold last required requalification: the training is served again and only "
                "gold work done since counts.")),
        ),
        migrations.RemoveConstraint(
            model_name="workitem",
            name="workitem_distinct_people_per_item",
        ),
        migrations.AddConstraint(
            model_name="workitem",
            constraint=models.UniqueConstraint(
                condition=models.Q(("assignee__isnull", False), ("is_gold", False)), fields=PEOPLE,
                name="workitem_distinct_people_per_item"),
        ),
        migrations.AddConstraint(
            model_name="workitem",
            constraint=models.UniqueConstraint(
                condition=models.Q(("assignee__isnull", False), ("is_gold", True),
                                   ("state__in", ["queued", "leased"])),
                fields=PEOPLE, name="workitem_one_open_gold_per_person"),
        ),
    ]
