"""The notebook client of a grading run: every byte the kernel sends counts against a cap.

A cell printing in a loop, a flood of widget state or one huge message stops the kernel once
the notebook's output passes :attr:`~autograder.grading.limits.Limits.output_size`, instead
of filling the worker's memory while the cell timeout runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeGuard

import nbformat
import zmq
from jupyter_client.client import KernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_async, run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal

#: Messages a client socket queues before it drops (iopub) or stops taking (replies) more; a
#: grading kernel sends a few per cell, a flood is stopped at the output cap.
RECEIVE_QUEUE = 64


def _message_size(msg: dict[str, Any]) -> int:
    """Return about how many bytes a kernel message took on the wire (content and buffers)."""
    size = len(json.dumps(msg.get("content"), default=str))
    for buffer in msg.get("buffers") or ():
        size += memoryview(buffer).nbytes
    return size


def _well_formed(msg: object) -> TypeGuard[dict[str, Any]]:
    """Return True for a message shaped as the Jupyter protocol says (nbclient relies on it)."""
    return (
        isinstance(msg, dict)
        and isinstance(msg.get("msg_type"), str)
        and isinstance(msg.get("content"), dict)
        and isinstance(msg.get("header"), dict)
        and isinstance(msg.get("parent_header"), dict)
        and isinstance(msg.get("metadata", {}), dict)
    )


class CappedClient(NotebookClient):
    """An nbclient that counts every byte the kernel sends and stops it past ``output_limit``.

    Every message received on the kernel's output and reply channels counts, whatever its type
    or parent (widget updates and messages addressed to no cell included), and no single
    message may exceed the limit (``ZMQ_MAXMSGSIZE``): a cell printing in a loop, or a flood of
    widget state, cannot fill the worker's memory while the cell timeout runs. Widget state
    is not kept, and a message the Jupyter protocol does not allow is dropped and counted in
    ``bad_messages`` instead of stopping the grading.
    """

    def __init__(
        self,
        nb: nbformat.NotebookNode,
        *,
        km: AsyncKernelManager,
        output_limit: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(nb, km=km, store_widget_state=False, **kwargs)
        self.comm_open_handlers = {}
        self.output_limit = output_limit
        self.received_bytes = 0
        self.output_exceeded = False
        self.bad_messages = 0
        # The message that crossed the limit, and how many bytes of it still fit.
        self._crossing: tuple[int, int] | None = None

    def _manager(self) -> AsyncKernelManager:
        """Return the kernel manager: the one given, which nbclient keeps (it does not own it)."""
        assert isinstance(self.km, AsyncKernelManager), "CappedClient is given its kernel manager"
        return self.km

    async def async_start_new_kernel_client(self) -> KernelClient:
        # Before the client's sockets exist, so the limits apply to each of them: no frame
        # larger than the whole cap, and at most RECEIVE_QUEUE messages waiting to be counted.
        context = self._manager().context
        context.setsockopt(zmq.MAXMSGSIZE, self.output_limit + 65536)
        context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.iopub_channel, kc.shell_channel):
            channel.get_msg = self._counted(channel.get_msg)
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _counted(self, get_msg: Callable[..., Any]) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def get_counted_msg(*args: Any, **kwargs: Any) -> dict[str, Any]:
            while True:
                msg = await ensure_async(get_msg(*args, **kwargs))
                if not _well_formed(msg):
                    self.bad_messages += 1
                    continue
                self._count(msg)
                return msg

        return get_counted_msg

    def _count(self, msg: dict[str, Any]) -> None:
        remaining = self.output_limit - self.received_bytes
        self.received_bytes += _message_size(msg)
        if self.received_bytes > self.output_limit and not self.output_exceeded:
            self.output_exceeded = True
            self._crossing = (id(msg), max(0, remaining))
            # Stopping the kernel ends the cell: nbclient then raises DeadKernelError.
            self._stop_task = asyncio.ensure_future(self._manager().shutdown_kernel(now=True))

    def process_message(
        self, msg: dict[str, Any], cell: nbformat.NotebookNode, cell_index: int
    ) -> nbformat.NotebookNode | None:
        # _crossing is set with output_exceeded, once the output has passed the limit.
        if self._crossing is not None and msg["msg_type"] != "status":
            crossing_id, fits = self._crossing
            if id(msg) != crossing_id or msg["msg_type"] != "stream":
                return None
            # Keep the text up to the limit, so the feedback shows where it stopped.
            text = str(msg["content"].get("text", ""))[:fits]
            msg["content"]["text"] = f"{text}\n[output stopped: over {self.output_limit} bytes]\n"
        try:
            return super().process_message(msg, cell, cell_index)
        except CellControlSignal:
            raise
        except Exception:  # an output nbformat rejects (e.g. `data` that is a list): drop it
            self.bad_messages += 1
            return None

    def handle_comm_msg(
        self, outs: list[nbformat.NotebookNode], msg: dict[str, Any], cell_index: int
    ) -> None:
        """Ignore widget messages: grading keeps no widget state."""
