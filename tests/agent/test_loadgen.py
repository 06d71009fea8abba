"""perf/loadgen against an in-test fan-out controller double: hundreds of real streams on shared
channels, every update applied in order and acked, arrival times per host and revision, and
reconnect-and-resume when a controller goes away."""

from __future__ import annotations

import asyncio

import grpc
from clocks import wait_for
from loadgen import LoadGen

from alcor.v1 import goalstate_pb2, goalstate_pb2_grpc, resources_pb2


class FanOut(goalstate_pb2_grpc.GoalStateServiceServicer):
    """Welcomes every host with a one-port snapshot at revision 1, then forwards broadcasts."""

    def __init__(self, member_id: str) -> None:
        self.member_id = member_id
        self.streams: dict[str, tuple[grpc.aio.ServicerContext, list[int]]] = {}
        self.acks: list[tuple[str, goalstate_pb2.GoalStateAck]] = []
        self.hellos: list[goalstate_pb2.Hello] = []
        self.revision = 1

    async def Sync(self, request_iterator, context):  # type: ignore[no-untyped-def]
        hello = (await context.read()).hello
        self.hellos.append(hello)
        resumed = hello.last_applied_revision > 0
        await context.write(
            goalstate_pb2.ControllerMessage(
                welcome=goalstate_pb2.Welcome(
                    member_id=self.member_id, resumed=resumed, revision=self.revision
                )
            )
        )
        if not resumed:
            snap = goalstate_pb2.GoalStateUpdate(revision=1, full=True)
            snap.upserts.add().port.CopyFrom(
                resources_pb2.Port(id=f"port-{hello.host_id}", host_id=hello.host_id)
            )
            await context.write(goalstate_pb2.ControllerMessage(update=snap))
        self.streams[hello.host_id] = (context, [hello.last_applied_revision or 1])
        while True:
            msg = await context.read()
            if msg is grpc.aio.EOF:
                return
            self.acks.append((hello.host_id, msg.ack))

    async def broadcast(self) -> int:
        """One neighbor change to every connected host; returns its revision."""
        self.revision += 1
        for context, last in list(self.streams.values()):
            update = goalstate_pb2.GoalStateUpdate(base_revision=last[0], revision=self.revision)
            update.upserts.add().neighbor.CopyFrom(
                goalstate_pb2.Neighbor(
                    port_id=f"n{self.revision}",
                    vni=7,
                    ip_address="10.0.0.9",
                    mac_address="fa:16:3e:00:00:09",
                    host_id="elsewhere",
                    host_ip="10.9.9.9",
                )
            )
            last[0] = self.revision
            await context.write(goalstate_pb2.ControllerMessage(update=update))
        return self.revision


async def serve(member_id: str) -> tuple[grpc.aio.Server, FanOut, str]:
    servicer = FanOut(member_id)
    server = grpc.aio.server()
    goalstate_pb2_grpc.add_GoalStateServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, servicer, f"127.0.0.1:{port}"


def test_hundreds_of_agents_get_every_update_in_order_and_ack_it() -> None:
    hosts = [f"host-{i}" for i in range(300)]

    def fail_one(host_id: str, update: goalstate_pb2.GoalStateUpdate):  # type: ignore[no-untyped-def]
        if host_id == "host-7" and update.full:
            yield goalstate_pb2.ResourceStatus(
                kind=goalstate_pb2.GOAL_STATE_KIND_PORT, id="port-host-7", ok=False, reason="injected"
            )

    async def main() -> None:
        server, ctl, addr = await serve("c1")
        try:
            async with LoadGen(
                [addr],
                hosts,
                token="t",
                streams_per_channel=64,
                connect_concurrency=50,
                statuses=fail_one,
                seed=1,
            ) as lg:
                assert lg.stats()["connected"] == 300
                assert lg.stats()["channels"] == 5  # ceil(300 / 64)
                assert all(a.goal.ports.keys() == {f"port-{a.host_id}"} for a in lg.agents.values())
                revisions = [await ctl.broadcast() for _ in range(3)]
                times = await lg.wait_all(revisions[-1], timeout=30)
                assert set(times) == set(hosts)
                t7 = await lg.wait_revision("host-7", revisions[0], timeout=5)
                assert t7 <= times["host-7"]
                await wait_for(lambda: len(ctl.acks) == 300 * 4)
                by_host: dict[str, list[int]] = {}
                for host, ack in ctl.acks:
                    by_host.setdefault(host, []).append(ack.revision)
                assert all(revs == [1, *revisions] for revs in by_host.values())
                failed = [(h, a.statuses[0].reason) for h, a in ctl.acks if a.statuses]
                assert failed == [("host-7", "injected")]
                agent = lg.agents["host-0"]
                assert agent.revision == revisions[-1] and len(agent.goal.neighbors) == 3
                assert [r for r, _ in agent.arrivals] == [1, *revisions]
                stats = lg.stats()
                assert stats["updates"] == 1200 and stats["snapshots"] == 300 and stats["out_of_order"] == 0
                assert {h.agent_version.split("/")[0] for h in ctl.hellos} == {"loadgen"}
        finally:
            await server.stop(None)

    asyncio.run(main())


def test_agents_move_to_another_controller_and_resume() -> None:
    hosts = [f"host-{i}" for i in range(40)]

    async def main() -> None:
        a_server, a, a_addr = await serve("a")
        b_server, b, b_addr = await serve("b")
        try:
            async with LoadGen([a_addr, b_addr], hosts, seed=2) as lg:
                rev = await a.broadcast()
                await lg.wait_all(rev, hosts=[h for h in hosts if h in a.streams], timeout=10)
                on_a = set(a.streams)
                await a_server.stop(None)
                await wait_for(lambda: {h.host_id for h in b.hellos} >= set(hosts), timeout=30)
                # b has their Hellos; the agents count a session once they read its Welcome
                await wait_for(lambda: all(lg.agents[h].endpoint == b_addr and lg.agents[h].connected
                                           for h in on_a), timeout=30)
                moved = [h for h in b.hellos if h.host_id in on_a]
                assert moved and all(h.last_applied_revision == rev for h in moved)  # resumed
                assert lg.stats()["snapshots"] == 40  # nobody needed a second snapshot
                assert lg.stats()["reconnects"] == len(on_a)
        finally:
            await b_server.stop(None)
            await a_server.stop(None)

    asyncio.run(main())
