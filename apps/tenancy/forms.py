from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.core.validators import MaxValueValidator, MinValueValidator

from .roles import Role


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(label="Role")

    def __init__(self, *args, roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Only the roles the inviter may hand out (roles.GRANTABLE_ROLES); the service checks again.
        self.fields["role"].choices = [(role.value, role.label) for role in Role if role in roles]
        if Role.ANNOTATOR in roles:
            self.fields["role"].initial = Role.ANNOTATOR


class OrganizationSettingsForm(forms.Form):
    name = forms.CharField(label="Organisation name", max_length=200)
    mfa_required = forms.BooleanField(
        label="Require two-factor authentication for every member",
        required=False,
        help_text="Members without an authenticator app are asked to set one up before they can continue.",
    )
    idle_logoff_minutes = forms.IntegerField(
        label="Sign out after this many idle minutes",
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
        help_text="Between 5 and 1440 minutes.",
    )
    allowed_email_domains = forms.CharField(
        label="Allowed email domains",
        required=False,
        max_length=2000,
        help_text="Comma separated, for example: example.com, example.org. Leave empty to admit any address.",
    )

    @classmethod
    def initial_from(cls, org) -> dict:
        return {
            "name": org.name,
            "mfa_required": org.mfa_required,
            "idle_logoff_minutes": org.idle_logoff_minutes,
            "allowed_email_domains": ", ".join(org.allowed_email_domains or []),
        }

    def clean_allowed_email_domains(self) -> list[str]:
        value = self.cleaned_data["allowed_email_domains"] or ""
        domains = [part.strip().lower().lstrip("@") for part in value.replace("\n", ",").split(",") if part.strip()]
        bad = [domain for domain in domains if "." not in domain or " " in domain or "@" in domain]
        if bad:
            raise forms.ValidationError(f"These are not domain names: {', '.join(bad)}.")
        return domains


class InvitationSignupForm(forms.Form):
    """A new account for the invited address (the address itself is fixed by the invitation)."""

    full_name = forms.CharField(
        label="Full name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters, not a common password and not only digits.",
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords are not the same.")
        elif password1:
            candidate = get_user_model()(email=self.email, full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password1, user=candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned



class BreakGlassForm(forms.Form):
    """A short elevation to a higher role's scopes, with the reason that goes to the audit trail."""

    role = forms.ChoiceField(label="Elevate to")
    minutes = forms.IntegerField(
        label="For how many minutes", initial=60,
        validators=[MinValueValidator(1), MaxValueValidator(240)],
        help_text="At most 240 minutes (4 hours); it ends by itself.",
        error_messages={"required": "Say for how many minutes (1 to 240).",
                        "invalid": "Give the number of minutes, from 1 to 240."},
    )
    reason = forms.CharField(
        label="Reason", min_length=20, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="At least 20 characters: compliance officers are told at once, and it goes to the audit trail.",
        error_messages={"required": "Say why you need the elevation (at least 20 characters).",
                        "min_length": "Say why, in at least 20 characters: it goes to the audit trail."},
    )

    def __init__(self, *args, roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(role.value, role.label) for role in roles]
