from datetime import datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone


class AuditFilterForm(forms.Form):
    actor_email = forms.CharField(
        label="Actor", max_length=254, required=False,
        help_text="The email address of who acted (exact match).",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    action = forms.CharField(
        label="Action", max_length=100, required=False,
        help_text="An exact action such as member.removed, or a prefix ending in a dot such as member.",
    )
    target_type = forms.CharField(
        label="Object type", max_length=100, required=False,
        help_text="What the event is about, such as datasets.item or tenancy.membership.",
    )
    target_id = forms.CharField(label="Object id", max_length=64, required=False)
    dataset = forms.TypedChoiceField(
        label="Dataset", required=False, coerce=int, empty_value=None,
        help_text="Events about the dataset, its items, exports and versions.",
    )
    ip = forms.CharField(
        label="IP address", max_length=64, required=False,
        help_text="An address, or a network in CIDR form such as 10.0.0.0/8.",
    )
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive."
    )

    def __init__(self, *args, datasets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "Any dataset"), *((d.pk, d.name) for d in datasets)]

    def clean_ip(self):
        from .console import parse_ip_filter

        value = self.cleaned_data.get("ip", "").strip()
        if not value:
            return None
        try:
            return parse_ip_filter(value)
        except ValidationError as error:
            raise ValidationError(error.message_dict["ip"]) from None

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def selector_filters(self) -> dict:
        """The keyword arguments of console.audit_event_search for what was filled in."""
        data = self.cleaned_data
        tz = timezone.get_current_timezone()
        filters = {key: data[key] for key in ("actor_email", "action", "target_type", "target_id") if data.get(key)}
        if data.get("dataset") is not None:
            filters["dataset_id"] = data["dataset"]
        if data.get("ip") is not None:
            filters["ip"] = data["ip"]
        if data.get("since"):
            filters["since"] = datetime.combine(data["since"], time.min, tzinfo=tz)
        if data.get("until"):
            filters["until"] = datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=tz)
        return filters


class AuditExportForm(forms.Form):
    """A period of whole days to export as a signed zip."""

    since = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive.")

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def period(self) -> tuple[datetime, datetime]:
        tz = timezone.get_current_timezone()
        data = self.cleaned_data
        return (datetime.combine(data["since"], time.min, tzinfo=tz),
                datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=tz))


class AccessReportForm(forms.Form):
    """A dataset and a period of whole days for the access report."""

    dataset = forms.TypedChoiceField(label="Dataset", coerce=int)
    since = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive.")

    def __init__(self, *args, datasets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "Choose a dataset"), *((d.pk, d.name) for d in datasets)]

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def period(self) -> tuple[datetime, datetime]:
        tz = timezone.get_current_timezone()
        data = self.cleaned_data
        return (datetime.combine(data["since"], time.min, tzinfo=tz),
                datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=tz))
