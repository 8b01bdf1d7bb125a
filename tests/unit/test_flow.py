"""keep_queues_on_resume: with mode's own FlowControlEvent and FlowControlQueue (the ones Faust's channels use), a
resume of running flow keeps what the queues hold; a resume of suspended flow clears them as before."""
from __future__ import annotations

import asyncio

from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams.flow import keep_queues_on_resume


def flow_with_queue() -> tuple[FlowControlEvent, FlowControlQueue]:
    flow = FlowControlEvent(initially_suspended=False)
    return flow, FlowControlQueue(maxsize=10, flow_control=flow, clear_on_resume=True)


def test_faust_s_resume_clears_the_queues_of_running_flow() -> None:
    async def run() -> int:
        flow, queue = flow_with_queue()
        queue.put_nowait("event at offset 147")
        flow.resume()                                  # what table recovery does a second time
        return queue.qsize()
    assert asyncio.run(run()) == 0                     # the behaviour the wrapper exists for


def test_a_resume_of_running_flow_keeps_the_queued_events() -> None:
    async def run() -> int:
        flow, queue = flow_with_queue()
        keep_queues_on_resume(flow)
        queue.put_nowait("event at offset 147")
        flow.resume()
        return queue.qsize()
    assert asyncio.run(run()) == 1


def test_a_resume_of_suspended_flow_still_clears_and_resumes() -> None:
    async def run() -> tuple[int, bool]:
        flow, queue = flow_with_queue()
        keep_queues_on_resume(flow)
        keep_queues_on_resume(flow)                    # idempotent: one wrapper
        queue.put_nowait("queued before the revoke")
        flow.suspend()
        flow.resume()
        return queue.qsize(), flow.is_active()
    assert asyncio.run(run()) == (0, True)


def test_faust_s_app_flow_control_is_this_event() -> None:
    import faust
    app = faust.App("t-flow", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    assert isinstance(app.flow_control, FlowControlEvent)
