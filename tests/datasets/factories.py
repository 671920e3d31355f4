from datetime import UTC, datetime

import factory

from apps.datasets.models import Dataset, Item

from ..factories import OrganizationFactory


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Dataset {n}")


class ItemFactory(factory.django.DjangoModelFactory):
    """An image item of the given dataset; its organisation is copied from the dataset, as the services do."""

    class Meta:
        model = Item

    dataset = factory.SubFactory(DatasetFactory)
    organization = factory.LazyAttribute(lambda item: item.dataset.organization)
    kind = Item.Kind.IMAGE
    name = factory.Sequence(lambda n: f"item-{n:06d}.jpg")
    folder = "/"
    mime = "image/jpeg"
    size = 1024
    width = 640
    height = 480
    metadata = factory.LazyFunction(dict)


def at(text: str) -> datetime:
    """An ISO 8601 time without zone, as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def items_of(dataset):
    """The dataset's items, read as its organisation reads them."""
    return Item.objects.for_org(dataset.organization_id).filter(dataset=dataset)
