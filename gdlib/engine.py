"""Papermill's engine "gdlib": nbclient's, with the started kernel reported to the runner
(:mod:`gdlib.execution` interrupts and kills its process group) and, on POSIX, talking to the kernel
over Unix sockets in the runner's temporary folder instead of local TCP (issue 23: over TCP, ipykernel
warns once per notebook that its traffic is not encrypted)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

IPC_FOLDER_MAX = 80  # bytes: a Unix socket's path is at most 103 on macOS (107 on Linux); "/kernel-ipc-N" is 13


def ipc_fits(folder: str) -> bool:
    """Whether the kernel's Unix sockets can go in ``folder``: POSIX, and a path short enough in bytes."""
    return os.name == "posix" and len(os.fsencode(folder)) <= IPC_FOLDER_MAX


def register(kernel: dict[str, Any], event: Callable[[str, dict], None], sockets: str) -> None:
    """Register papermill's engine "gdlib": nbclient's, but once the kernel is started it fills in
    ``kernel`` and reports it as a "kernel" event (the runner interrupts and kills its process group)."""
    import papermill
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class Client(PapermillNotebookClient):
        def start_new_kernel(self, **kwargs):  # what papermill's (synchronous) execute calls
            super().start_new_kernel(**kwargs)
            provisioner = getattr(self.km, "provisioner", None)
            kernel.update(pid=getattr(provisioner, "pid", None), pgid=getattr(provisioner, "pgid", None),
                          connection_file=self.km.connection_file)
            event("kernel", kernel)

    class Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            kwargs = {k: v for k, v in kwargs.items() if k not in ("input_path", "timeout", "startup_timeout")}
            if ipc_fits(sockets):  # else TCP, and its warning
                kwargs.setdefault("kernel_manager_class", ipc_kernel_manager(sockets))
            return Client(nb_man, timeout=execution_timeout, startup_timeout=start_timeout, kernel_name=kernel_name,
                          log=papermill.log.logger, log_output=log_output, stdout_file=stdout_file,
                          stderr_file=stderr_file, **kwargs).execute()

    papermill_engines.register("gdlib", Engine)


def ipc_kernel_manager(folder: str) -> type:
    """A kernel manager that talks to the kernel over Unix sockets in ``folder``, not local TCP. The runner
    gives its private temporary folder, removed with the sockets in it whichever way the notebook ends
    (left to itself, jupyter_client would put them in the notebook's folder, the working directory)."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("ip")
        def _ip_default(self) -> str:
            return os.path.join(folder, "kernel-ipc")  # the sockets: kernel-ipc-1 ... kernel-ipc-5

    return IPCKernelManager
