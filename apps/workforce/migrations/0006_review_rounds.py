"""Review rounds: each review of an annotate unit is a round, and its comments belong to it.

Comments written before rounds existed get theirs from the work log: each rejection of the unit (a `rejected`
work event, written in the same transaction as its comments and just after them) becomes a round, numbered in
order, and a comment joins the first rejection at or after it was written (or one more round when none is left),
so every existing comment has a round and the newest rejection's comments stay the ones the annotator sees."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def rounds_for_existing_comments(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":  # the migration reads every organisation's rows (row-level security)
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.rls_bypass', 'on', true)")
    ReviewComment = apps.get_model("workforce", "ReviewComment")
    ReviewRound = apps.get_model("workforce", "ReviewRound")
    WorkEvent = apps.get_model("workforce", "WorkEvent")
    comments = ReviewComment._base_manager.filter(round__isnull=True).order_by("work_item_id", "created_at", "id")
    by_unit: dict[int, list] = {}
    for comment in comments:
        by_unit.setdefault(comment.work_item_id, []).append(comment)
    for unit_id, unit_comments in by_unit.items():
        rejections = list(WorkEvent._base_manager.filter(work_item_id=unit_id, kind="rejected").order_by("at", "id"))
        rounds = []
        for number, event in enumerate(rejections, start=1):
            review_unit = (event.data or {}).get("review_unit")
            rounds.append(ReviewRound._base_manager.create(
                organization_id=event.organization_id, work_item_id=unit_id, number=number,
                reviewer_id=event.actor_id, decision="rejected", decided_at=event.at,
                review_unit_id=review_unit if isinstance(review_unit, int) else None))
        for comment in unit_comments:
            target = next((r for r in rounds if r.decided_at >= comment.created_at), None)
            if target is None:
                target = ReviewRound._base_manager.create(
                    organization_id=comment.organization_id, work_item_id=unit_id, number=len(rounds) + 1,
                    reviewer_id=comment.author_id, decision="rejected", decided_at=comment.created_at)
                rounds.append(target)
            comment.round_id = target.pk
            comment.save(update_fields=["round"])


class Migration(migrations.Migration):

    dependencies = [
        ("tenancy", "0001_initial"),
        ("workforce", "0005_member_hourly_rate"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ReviewRound",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveSmallIntegerField()),
                ("decision", models.CharField(choices=[("approved", "Approved"), ("rejected", "Rejected")],
                                              max_length=8)),
                ("corrections", models.PositiveIntegerField(default=0, help_text="Changes the reviewer made to the "
                                                            "work's layer (each one is a revision by the reviewer).")),
                ("decided_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("organization", models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE,
                                                   related_name="+", to="tenancy.organization")),
                ("review_unit", models.ForeignKey(blank=True, null=True,
                                                  on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                                  to="workforce.workitem")),
                ("reviewer", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                               related_name="+", to=settings.AUTH_USER_MODEL)),
                ("work_item", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                related_name="review_rounds", to="workforce.workitem")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("work_item", "number"),
                                                        name="reviewround_number_unique")],
            },
        ),
        migrations.AddField(
            model_name="reviewcomment",
            name="round",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="comments", to="workforce.reviewround"),
        ),
        migrations.RunPython(rounds_for_existing_comments, migrations.RunPython.noop),
    ]
