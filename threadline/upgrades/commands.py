"""``threadline migrate``: bring a store up to this Threadline's format and ontology version.

Progress goes to standard error, line by line, so that an operator (or a log collector) sees which step and
which graph a long migration is at. Exit status: 0 migrated or already current, 2 it could not run (the store
is newer than this Threadline, held by a running service, unreachable, ...).
"""

from __future__ import annotations

from pathlib import Path

import click

from threadline.errors import StoreUnavailable


@click.command(name="migrate")
@click.option("--store", "store_url", default=None, help="Store URL (default: THREADLINE_STORE).")
@click.option(
    "--backup-to",
    "backup_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the backup taken before migrating (default: THREADLINE_VAR_DIR/backups).",
)
@click.option("--no-backup", is_flag=True, help="Migrate without taking a backup first (you have one already).")
@click.option("--dry-run", is_flag=True, help="Show what the migration would do; change nothing.")
@click.option(
    "--actor",
    default=None,
    help="Person responsible, as the audit trail records it (default: THREADLINE_ACTOR, else the OS user).",
)
def migrate_command(
    store_url: str | None, backup_dir: Path | None, no_backup: bool, dry_run: bool, actor: str | None
) -> None:
    """Upgrade the store in place to this Threadline's store format and ontology version (stop the service
    first). Safe to run again: a finished migration does nothing, an interrupted one resumes."""
    from threadline.auth.commands import operator
    from threadline.config import Settings
    from threadline.store import open_store
    from threadline.upgrades.migration import current_plan, migrate

    if no_backup and backup_dir is not None:
        raise click.UsageError("--no-backup and --backup-to contradict each other")
    settings = Settings()

    def say(text: str) -> None:
        click.echo(text, err=True)

    try:
        store = open_store(store_url, settings, check_versions=False)
    except StoreUnavailable as exc:
        raise StoreUnavailable(f"{exc} (a running service holds the store: stop it, migrate, start it again)") from exc
    try:
        if dry_run:
            steps = current_plan(store)
            say(f"{store.url}: {steps.found} -> {steps.target}" if steps.needed else f"{store.url}: already current")
            for line in steps.describe():
                say(f"  {line}")
            say("dry run: nothing changed" + ("" if steps.trivial else "; this migration rewrites data"))
            return
        migrate(
            store,
            actor=operator(actor),
            backup_dir=None if no_backup else backup_dir or settings.var_dir / "backups",
            progress=say,
        )
    finally:
        store.close()
