"""Forms of the workforce pages: the task creation wizard and the manager's actions on the task board. They only
parse; the services (task_create, task_member_add, ...) decide what is allowed and say what is wrong."""

import json

from django import forms

from .models import Task, TaskMember

MAX_QUERY_TEXT = 100_000
ROLES = [role for role, _label in TaskMember.Role.choices]


class TaskForm(forms.Form):
    """The creation wizard. The members table (a row per person of the organisation, with a box per role and a
    weight) is read from the posted fields `member-<user id>-<role>` and `member-<user id>-weight`."""

    name = forms.CharField(max_length=200, label="Name")
    dataset = forms.TypedChoiceField(coerce=int, label="Dataset")
    recipe_version = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Recipe version",
        help_text="New annotations pin this version. By default: the dataset's recipe, its latest version.")
    query = forms.CharField(
        max_length=MAX_QUERY_TEXT, required=False, initial="{}", label="Items (query)", strip=False,
        help_text='Which items of the dataset the task covers, in the query language, e.g. '
                  '{"metadata.camera": "A"}. {} takes every item.',
        widget=forms.Textarea(attrs={"rows": 4, "class": "code-input", "spellcheck": "false"}))
    live = forms.BooleanField(required=False, label="Live: items that match later join the task")
    distribution = forms.ChoiceField(choices=Task.Distribution.choices, initial=Task.Distribution.PULL,
                                     label="Distribution")
    consensus = forms.IntegerField(min_value=1, max_value=10, initial=1, label="Consensus",
                                   help_text="How many different annotators label each item.")
    review_ratio = forms.FloatField(min_value=0, max_value=1, initial=0, label="Review ratio",
                                    help_text="Share of submitted work a reviewer checks, from 0 to 1.",
                                    widget=forms.NumberInput(attrs={"step": "0.05"}))
    honeypot_rate = forms.FloatField(min_value=0, max_value=0.5, initial=0, label="Honeypot rate",
                                     help_text="Share of served units that are gold items, from 0 to 0.5.",
                                     widget=forms.NumberInput(attrs={"step": "0.01"}))
    priority = forms.IntegerField(min_value=-1000, max_value=1000, initial=0, label="Priority",
                                  help_text="Higher is served first, across tasks and within them.")
    due_at = forms.DateTimeField(required=False, label="Due date",
                                 widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                            format="%Y-%m-%dT%H:%M"))
    annotator_cap = forms.IntegerField(min_value=1, required=False, label="Most units per annotator",
                                       help_text="Leave empty for no limit.")

    def __init__(self, *args, datasets=(), versions=(), people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "Choose a dataset")] + [(d.pk, d.name) for d in datasets]
        self.fields["recipe_version"].choices = [("", "The dataset's recipe (latest version)")] + [
            (v["id"], f"{v['recipe__name']} v{v['number']}") for v in versions]
        self.people = list(people)
        self.member_errors: dict[int, str] = {}

    def clean_query(self):
        text = (self.cleaned_data.get("query") or "").strip() or "{}"
        try:
            query = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"The query is not JSON: {exc.msg} at line {exc.lineno}, column "
                                        f"{exc.colno}.") from None
        except (RecursionError, ValueError):
            raise forms.ValidationError("The query is not JSON (or it is nested too deeply).") from None
        if not isinstance(query, dict):
            raise forms.ValidationError('A query is a JSON object, e.g. {"metadata.camera": "A"}.')
        return query

    def member_rows(self) -> list[dict]:
        """The members table as posted (or empty), one row per person of the organisation."""
        rows = []
        for membership in self.people:
            user = membership.user
            prefix = f"member-{user.pk}"
            rows.append({
                "user_id": user.pk, "email": user.email, "name": getattr(user, "full_name", "") or "",
                "org_role": membership.get_role_display(), "prefix": prefix,
                "roles": {role: bool(self.data.get(f"{prefix}-{role}")) for role in ROLES},
                "weight": self.data.get(f"{prefix}-weight", "1") if self.is_bound else "1",
                "error": self.member_errors.get(user.pk),
            })
        return rows

    def clean(self):
        cleaned = super().clean()
        members, self.member_errors = [], {}
        for membership in self.people:
            prefix = f"member-{membership.user_id}"
            roles = [role for role in ROLES if self.data.get(f"{prefix}-{role}")]
            if not roles:
                continue
            raw = (self.data.get(f"{prefix}-weight") or "1").strip()
            try:
                weight = float(raw)
            except ValueError:
                weight = None
            if weight is None or not 0 < weight <= 100 or weight != weight:
                self.member_errors[membership.user_id] = "A weight is a number above 0 and at most 100."
                continue
            members += [{"user_id": membership.user_id, "role": role, "weight": weight} for role in roles]
        if self.member_errors:
            self.add_error(None, "Some members' weights are not valid: see the members table.")
        cleaned["members"] = members
        return cleaned


class TaskStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(Task.Status.ACTIVE, "Resume"), (Task.Status.PAUSED, "Pause")])


class MemberAddForm(forms.Form):
    user_id = forms.TypedChoiceField(coerce=int, label="Person")
    role = forms.ChoiceField(choices=TaskMember.Role.choices, label="Role")
    weight = forms.FloatField(min_value=0.01, max_value=100, initial=1, label="Weight",
                              widget=forms.NumberInput(attrs={"step": "0.1"}))

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user_id"].choices = [(m.user_id, m.user.email) for m in people]


class ReassignForm(forms.Form):
    user_id = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Give to")

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user_id"].choices = [("", "Back to the open queue")] + [(u.pk, u.email) for u in people]


class GoldForm(forms.Form):
    item_id = forms.IntegerField(min_value=1, label="Item id",
                                 help_text="An item of the task's dataset; its current annotations become the "
                                           "right answer.")
