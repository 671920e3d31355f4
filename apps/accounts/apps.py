from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from . import schema, signals  # noqa: F401  (schema registers the bearer scheme)

        signals.connect()
