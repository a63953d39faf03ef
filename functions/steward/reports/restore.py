"""What Steward says when its stack is deleted: what it brought back before going, and what stays as it is."""

from collections.abc import Sequence

from steward.domain.slack import SlackMessage, header, lines_in_sections

Row = dict[str, str]
SHIFT_BACK_HINT = "AWS refused the change: put their capacity provider strategy back by hand"


def summary(rows: Sequence[Row], on_demand: Sequence[str], *, dry_run: bool) -> str:
    """One line for CloudFormation's stack events (and the function's result)."""
    services = [r for r in rows if r["kind"] != "spot"]
    restored = [r for r in services if r["outcome"] in ("restored", "would restore")]
    databases = [r for r in restored if r["kind"] == "database"]
    verb = "would restore" if dry_run else "restored"
    words = f"{verb} {len(restored) - len(databases)} service(s) Steward held at zero"
    if databases:
        words += f" and started {len(databases)} database(s) it held stopped"
    others = len(services) - len(restored)
    if others:
        words += f"; {others} not restored (gone, or cannot be scaled: see the function's log)"
    shifted = [r for r in rows if r["kind"] == "spot" and r["outcome"] in ("shifted back", "would shift back")]
    if shifted:
        words += f"; {'would shift' if dry_run else 'shifted'} {len(shifted)} service(s) back to Spot"
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
    blocks = [header(title), *lines_in_sections(summary(rows, on_demand, dry_run=dry_run), lines, most=40)]
    return SlackMessage(text=title, blocks=tuple(blocks))
