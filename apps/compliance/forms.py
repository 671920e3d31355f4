from datetime import datetime, time, timedelta

from django import forms
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
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive."
    )

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def selector_filters(self) -> dict:
        """The keyword arguments of selectors.audit_event_list for what was filled in."""
        data = self.cleaned_data
        tz = timezone.get_current_timezone()
        filters = {key: data[key] for key in ("actor_email", "action") if data.get(key)}
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
