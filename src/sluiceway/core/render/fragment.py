"""What one render function reads besides its spec (`Context`: the app's name, where the
code sits, the stage) and returns (`Fragment`: resources, outputs, and API paths for routes);
``sluiceway.aws.template`` merges the fragments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sluiceway.core.cfn import Resources

DEFAULT_STAGE = "prod"


@dataclass(frozen=True)
class Code:
    """Where the functions' code sits (relative to the template) and how the shim finds the
    app in it (``module:attr``)."""

    app: str
    uri: str = "src"


@dataclass(frozen=True)
class Context:
    """What every render function may read besides its spec."""

    app: str  # the app's name
    code: Code
    stage: str = DEFAULT_STAGE


@dataclass
class Fragment:
    resources: Resources = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    # OpenAPI paths: path -> lower-case method -> operation
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    # OpenAPI schemas (API Gateway models) the operations refer to, by name
    schemas: dict[str, Any] = field(default_factory=dict)
    # logical IDs the SAM transform will create for this fragment
    derived: tuple[str, ...] = ()
    # template parameters this fragment adds (logical ID -> declaration)
    parameters: dict[str, Any] = field(default_factory=dict)
    # SAM events another service's render adds to a function of this fragment (the function's
    # logical ID -> event key -> event); `joined` puts them into the function's ``Events``
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


def joined(first: Fragment, *others: Fragment) -> Fragment:
    """One declaration's fragments as one (a function's own, and what the service that
    triggers it renders for it): each logical ID from one fragment only, and the events
    placed on their functions."""
    whole = Fragment(
        resources=dict(first.resources),
        outputs=dict(first.outputs),
        paths={path: dict(operations) for path, operations in first.paths.items()},
        schemas=dict(first.schemas),
        derived=first.derived,
        parameters=dict(first.parameters),
        events={logical: dict(events) for logical, events in first.events.items()},
    )
    for other in others:
        for mine, theirs in (
            (whole.resources, other.resources),
            (whole.outputs, other.outputs),
            (whole.schemas, other.schemas),
            (whole.parameters, other.parameters),
        ):
            shared = mine.keys() & theirs.keys()
            assert not shared, f"two renders of one declaration both make {sorted(shared)}"
            mine.update(theirs)
        for path, operations in other.paths.items():
            whole.paths.setdefault(path, {}).update(operations)
        whole.derived += other.derived
        for logical, events in other.events.items():
            whole.events.setdefault(logical, {}).update(events)
    for logical in list(whole.events):
        resource = whole.resources.get(logical)
        if resource is not None:
            resource["Properties"].setdefault("Events", {}).update(whole.events.pop(logical))
    return whole
