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
