from django import forms


class PipelineForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name")
    dataset = forms.TypedChoiceField(coerce=int, label="Dataset", help_text="The dataset its items come from.")

    def __init__(self, *args, datasets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "Choose a dataset")] + [(d.pk, d.name) for d in datasets]


class AgreementPeriodForm(forms.Form):
    """The period a model page's agreement figures cover (both ends optional)."""

    since = forms.DateTimeField(required=False, label="From", help_text="Outcomes resolved from this moment.",
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, label="Until", help_text="Outcomes resolved before this moment.",
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] <= data["since"]:
            self.add_error("until", "Must be later than From.")
        return data


def duration_words(seconds: int) -> str:
    """3600 -> "1 hour", 86400 -> "24 hours", 604800 -> "7 days" (whole days past two days)."""
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        amount, unit = seconds // 86400, "day"
    elif seconds % 3600 == 0:
        amount, unit = seconds // 3600, "hour"
    elif seconds % 60 == 0:
        amount, unit = seconds // 60, "minute"
    else:
        amount, unit = seconds, "second"
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


class WebhookSecretRotateForm(forms.Form):
    """How long the old webhook secret keeps signing beside the new one (webhook_secrets.py); the new one is random."""

    grace_seconds = forms.TypedChoiceField(
        coerce=int, label="The old secret keeps signing for",
        help_text="While both sign, each delivery carries both signatures, so receivers can switch to the new secret "
                  "without refusing one. Choose “not at all” when the old secret has leaked.")

    def __init__(self, *args, default_grace: int, **kwargs):
        super().__init__(*args, **kwargs)
        offered = sorted({default_grace, 3600, 24 * 3600, 7 * 24 * 3600} - {0})
        self.fields["grace_seconds"].choices = [
            (s, duration_words(s) + (" (the default)" if s == default_grace else "")) for s in offered
        ] + [(0, "Not at all: it stops signing now" + (" (the default)" if default_grace == 0 else ""))]
        self.fields["grace_seconds"].initial = default_grace
