"""Dataset.legal_hold and its reason: additive, off by default."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('datasets', '0007_dataset_subject_key'),
    ]

    operations = [
        migrations.AddField(
            model_name='dataset',
            name='legal_hold',
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name='dataset',
            name='legal_hold_reason',
            field=models.TextField(blank=True, default='', max_length=2000),
        ),
    ]
