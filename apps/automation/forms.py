from django import forms


class PipelineForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name")
    dataset = forms.TypedChoiceField(coerce=int, label="Dataset", help_text="The dataset its items come from.")

    def __init__(self, *args, datasets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "Choose a dataset")] + [(d.pk, d.name) for d in datasets]
