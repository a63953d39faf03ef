"""What Steward says once when it finds itself paused."""

from steward.domain.pause import Paused
from steward.domain.slack import SlackMessage, header, section


def paused(state: Paused, parameter: str, environment: str) -> SlackMessage:
    title = f"Steward ({environment}) is paused" + (f" until {state.until.isoformat()}" if state.until else "")
    body = (
        f"{state.why[0].upper()}{state.why[1:]}. Nothing Steward would change is changed: no off-hours stop or start, "
        "no Spot shift, no rollback, no budget stop. Budget alerts and the cost digest go on, and whatever was "
        "held stays held until Steward resumes; the first tick after it catches up."
    )
    resume = f"Resume: `aws ssm put-parameter --name {parameter} --type String --overwrite --value off`"
    return SlackMessage(text=title, blocks=(header(title), section(body), section(resume)))
