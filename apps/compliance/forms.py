from datetime import UTC, datetime, time, timedelta

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


class GdprRequestForm(forms.Form):
    """A data-subject request as it arrived: its kind, who it is about, and anything worth keeping with it."""

    kind = forms.ChoiceField(
        label="Kind of request", widget=forms.RadioSelect,
        choices=[("access", "Access and portability (art. 15, 20)"), ("erasure", "Erasure (art. 17)")],
        error_messages={"required": "Choose the kind of request: access or erasure."},
    )
    subject_value = forms.CharField(
        label="Subject identifier", max_length=200,
        help_text="The person's identifier as the datasets hold it under their subject key (e.g. a patient id).",
        error_messages={"required": "Give the subject's identifier (the value of the datasets' subject key)."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    notes = forms.CharField(label="Notes", max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                            help_text="How the request arrived, a reference to the correspondence.")


class GdprVerifyForm(forms.Form):
    notes = forms.CharField(label="How the identity was checked", max_length=2000, required=False,
                            widget=forms.Textarea(attrs={"rows": 2}))


class GdprRejectForm(forms.Form):
    reason = forms.CharField(label="Reason for rejecting", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="The subject is told this reason.",
                             error_messages={"required": "Say why the request is rejected (the subject is told)."})


class GdprRunForm(forms.Form):
    """Running takes nothing but the click (and its CSRF token)."""


class TransferBasisForm(forms.Form):
    """Records the legal basis for copies of the organisation's data in another region (apps/compliance/transfers)."""

    destination_region = forms.ChoiceField(label="Destination region")
    basis = forms.ChoiceField(label="Legal basis")
    reference = forms.CharField(label="Reference", max_length=200,
                                help_text="The adequacy decision, contract (e.g. SCC module and date) or consent "
                                          "record relied on.")
    purpose = forms.CharField(label="Purpose", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="Why the data goes there, and what goes.")
    valid_until = forms.DateField(label="Valid until", widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text="At most three years; record it again to renew.")

    def __init__(self, *args, regions=(), **kwargs):
        from .models import TransferBasis

        super().__init__(*args, **kwargs)
        self.fields["destination_region"].choices = [(r, r) for r in regions]
        self.fields["basis"].choices = TransferBasis.Basis.choices

    def clean_valid_until(self):
        # The end of the chosen day, UTC: a basis "valid until 31 May" covers 31 May.
        day = self.cleaned_data["valid_until"]
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


class TransferBasisRevokeForm(forms.Form):
    reason = forms.CharField(label="Why it no longer holds", max_length=2000)
