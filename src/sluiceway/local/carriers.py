"""The carriers deliveries leave by: email (through the delivery process while the runtime
runs), SMS, MQTT (to ``--mqtt``'s broker or one embedded here) and the functions subscribed to
topics, each with its delivery worker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sluiceway.app.graph import AppGraph
from sluiceway.awslambda.invoke import Invoker
from sluiceway.awslambda.sns_lambda import LambdaCarrier
from sluiceway.core import naming
from sluiceway.core.clock import Clock
from sluiceway.core.settings import Settings
from sluiceway.core.store import Store
from sluiceway.iot.loopback import Loopback
from sluiceway.iot.publisher import MqttCarrier, MqttPublisher, Publisher
from sluiceway.sns.deliveries import DeliveryWorker, MailCarrier
from sluiceway.sns.email import Links, Mailer
from sluiceway.sns.sender import ChildSender, SenderConfig, make_mailer
from sluiceway.sns.sent_log import SentLog
from sluiceway.sns.signing import Signer
from sluiceway.sns.sms import SmsCarrier, SmsProvider, make_provider

if TYPE_CHECKING:  # imported when one is started: amqtt takes a while to import
    from sluiceway.iot.broker import EmbeddedBroker as EmbeddedBroker


def mail_carrier(settings: Settings, mailer: Mailer | None, links: Links) -> MailCarrier:
    """Email to the given mailer, else to ``--smtp`` or the data directory's Maildir."""
    return MailCarrier(
        mailer or make_mailer(Path(settings.data_dir), settings.smtp),
        sender=settings.smtp_from,
        links=links,
    )


def sms_carrier(settings: Settings, provider: SmsProvider | None = None) -> SmsCarrier:
    """Texts to the given provider, else to ``--sms``'s."""
    return SmsCarrier(provider or make_provider(settings.sms, Path(settings.data_dir)))


def mqtt_carrier(
    settings: Settings, override: Callable[[Loopback | None], Publisher] | None, *, rules: bool
) -> tuple[MqttCarrier, EmbeddedBroker | None, Loopback | None]:
    """MQTT to ``--mqtt``'s broker or, without one, to a broker embedded here (started); or
    to what `override` makes (`sluiceway.testing`), given a broker in this process for the
    app's topic `rules` to read. One worker carries it: messages leave in publish order."""
    if override is not None:
        loopback = Loopback() if rules else None
        return MqttCarrier(override(loopback)), None, loopback
    if settings.mqtt is not None:
        return MqttCarrier(MqttPublisher(settings.mqtt)), None, None
    from sluiceway.iot.broker import EmbeddedBroker

    broker = EmbeddedBroker().start()
    return MqttCarrier(MqttPublisher(broker.url)), broker, None


def functions_deliverer(
    graph: AppGraph,
    invoker: Invoker,
    signer: Signer,
    region: naming.Region,
    links: Callable[[], Links],
    *,
    store: Store,
    clock: Clock,
) -> DeliveryWorker | None:
    """The worker that invokes the functions subscribed to topics: declared on one, or
    subscribed by SNS's API (any function of the app); None if the app has none."""
    subscribed = {f.name: f for f in graph.functions}
    if not subscribed:
        return None
    functions = LambdaCarrier(
        subscribed, invoker=invoker, signer=signer, region=region, links=links
    )
    return DeliveryWorker("lambda", ("lambda",), functions, store=store, clock=clock)


def email_deliverers(deliverers: Sequence[DeliveryWorker]) -> list[DeliveryWorker]:
    """The workers that carry email (the delivery process takes them over in `start`;
    SMS and functions on topics stay in this process)."""
    return [d for d in deliverers if d.protocols == ("email",)]


def delivery_process(settings: Settings, base_url: str, lock_fd: int) -> ChildSender:
    """Email leaves through the delivery process (see sender.py): it inherits the data
    directory's lock (`lock_fd`), so a restart waits for it to record its last delivery."""
    return ChildSender(
        SenderConfig(
            data_dir=str(settings.data_dir),
            durability=settings.durability,
            smtp=settings.smtp,
            sender=settings.smtp_from,
            base_url=base_url,
        ),
        keep_fds=(lock_fd,),
    )


class _Noting(Protocol):
    sent: Callable[[int], None] | None


def note_acceptances(settings: Settings, noting: Sequence[_Noting | None]) -> SentLog:
    """This process's log of accepted deliveries, told of by each carrier in `noting` (the
    delivery process keeps a log of its own)."""
    log = SentLog(Path(settings.data_dir), "runtime", durable=settings.durability == "full")
    for carrier in noting:
        if carrier is not None:
            carrier.sent = log.sent
    return log
