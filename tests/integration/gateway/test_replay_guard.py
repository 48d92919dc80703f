"""The hospitals' replay guard on real JetStream: a message id is accepted once, by any replica."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from nats.js.api import StorageType

from gateway.hospital_auth import REMEMBER_SECONDS, NatsReplayGuard


async def test_a_message_id_is_accepted_once_across_replicas_and_kept_in_memory(
    nc: NatsClient, subject_root: str
) -> None:
    js = nc.jetstream()
    first = await NatsReplayGuard.open(js, subject_root, replicas=1)
    second = await NatsReplayGuard.open(js, subject_root, replicas=1)  # another gateway replica

    assert await first.first_use("H36001", "m-1") is True
    assert await second.first_use("H36001", "m-1") is False
    assert await second.first_use("H36002", "m-1") is True  # ids are per hospital
    info = await js.stream_info(f"KV_{subject_root.upper()}_HOSPITAL_MESSAGES")
    assert info.config.storage == StorageType.MEMORY
    assert info.config.max_age == REMEMBER_SECONDS


async def test_a_bucket_made_on_disk_earlier_stays_on_disk(nc: NatsClient, subject_root: str) -> None:
    js = nc.jetstream()
    bucket = f"{subject_root.upper()}_HOSPITAL_MESSAGES"
    await js.create_key_value(bucket=bucket, ttl=REMEMBER_SECONDS, history=1, storage=StorageType.FILE)

    guard = await NatsReplayGuard.open(js, subject_root, replicas=1)

    assert await guard.first_use("H36001", "m-1") is True
    assert await guard.first_use("H36001", "m-1") is False
    assert (await js.stream_info(f"KV_{bucket}")).config.storage == StorageType.FILE
