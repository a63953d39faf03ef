"""What Steward says when its stack is deleted: what it brought back before going, and what stays as it is."""

from collections.abc import Sequence

from steward.domain.slack import SlackMessage, header, lines_in_sections

Row = dict[str, str]
SHIFT_BACK_HINT = "run `steward restore-all` first to put them back on Spot"


def summary(rows: Sequence[Row], on_demand: Sequence[str], *, dry_run: bool) -> str:
    """One line for CloudFormation's stack events (and the function's result)."""
    restored = [r for r in rows if r["outcome"] in ("restored", "would restore")]
    databases = [r for r in restored if r["kind"] == "database"]
    services = len(restored) - len(databases)
    words = f"{'would restore' if dry_run else 'restored'} {services} service(s) Steward held at zero"
    if databases:
        words += f" and started {len(databases)} database(s) it held stopped"
    others = len(rows) - len(restored)
    if others:
        words += f"; {others} not restored (gone, or cannot be scaled: see the function's log)"
    if on_demand:
        words += f"; {len(on_demand)} left on on-demand after a Spot failure ({SHIFT_BACK_HINT})"
    return words


def stack_deleted(rows: Sequence[Row], on_demand: Sequence[str], *, dry_run: bool, blocked: bool) -> SlackMessage:
    prefix = "[dry run] " if dry_run else ""
    title = (
        f"{prefix}Steward's stack is being deleted: some services are still held at zero"
        if blocked
        else f"{prefix}Steward's stack is being deleted: everything it held is back"
    )
    lines = [f"*{r['outcome']}* `{r['cluster']}/{r['service']}` {r['what']}" for r in rows]
    lines += [f"*left on on-demand* `{label}` ({SHIFT_BACK_HINT})" for label in on_demand]
    blocks = [header(title), *lines_in_sections(summary(rows, on_demand, dry_run=dry_run), lines, most=40)]
    return SlackMessage(text=title, blocks=tuple(blocks))
