"""Forms of the recipe pages. The editor itself is static/js/recipes/editor.js over the API; these forms are what
works without JavaScript: create, import a file, save the spec as JSON, publish with a migration map as JSON, link
a dataset."""

import json

from django import forms

MAX_IMPORT_BYTES = 3 * 1024 * 1024  # a spec is at most 2 MB (spec.MAX_SPEC_BYTES), plus its envelope
MAX_JSON_TEXT = 3 * 1024 * 1024


def _loads(text: str, what: str):
    """json.loads whose failure is a sentence saying where the text stops being JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise forms.ValidationError(f"{what} is not JSON: {exc.msg} at {where}.") from None
    except (RecursionError, ValueError):
        raise forms.ValidationError(f"{what} is not JSON (or it is nested too deeply).") from None


class RecipeForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name")
    description = forms.CharField(max_length=5000, required=False, label="Description",
                                  widget=forms.Textarea(attrs={"rows": 2}))


class RecipeImportForm(forms.Form):
    file = forms.FileField(label="Recipe file (.json)",
                           help_text="A recipe exported from dlsaas (its draft or one of its versions).")
    name = forms.CharField(max_length=200, required=False, label="Name",
                           help_text="Leave empty to keep the name in the file.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB.")
        raw = upload.read(MAX_IMPORT_BYTES + 1)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text: export the recipe from dlsaas again.") from None
        return _loads(text, "The file")


class SpecJsonForm(forms.Form):
    """The whole draft as JSON: the editor's "Advanced" section, and the editor without JavaScript."""

    name = forms.CharField(max_length=200, label="Name")
    description = forms.CharField(max_length=5000, required=False, label="Description",
                                  widget=forms.Textarea(attrs={"rows": 2}))
    spec = forms.CharField(max_length=MAX_JSON_TEXT, label="Recipe (JSON)", strip=False,
                           widget=forms.Textarea(attrs={"rows": 18, "class": "code-input", "spellcheck": "false"}))

    @staticmethod
    def text_of(spec) -> str:
        return json.dumps(spec, indent=2, ensure_ascii=False)

    def clean_spec(self):
        return _loads(self.cleaned_data["spec"], "The recipe")


class PublishForm(forms.Form):
    message = forms.CharField(max_length=500, required=False, label="Message",
                              help_text="What changed, for the people who read the version list.")
    migration = forms.CharField(
        max_length=MAX_JSON_TEXT, required=False, label="Migration map (JSON)", strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "code-input", "spellcheck": "false"}),
        help_text='For each label that disappears: [{"op": "rename", "from": "car", "to": "vehicle"}, '
                  '{"op": "delete", "label": "bike"}, ...]',
    )

    def clean_migration(self):
        text = self.cleaned_data["migration"].strip()
        return _loads(text, "The migration map") if text else []


class DatasetLinkForm(forms.Form):
    dataset = forms.TypedChoiceField(label="Dataset", coerce=int, choices=())

    def __init__(self, *args, datasets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "Choose a dataset…"), *((d.pk, d.name) for d in datasets)]
