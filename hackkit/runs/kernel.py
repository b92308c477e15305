"""The kernel manager the headless notebooks run under: jupyter_client's, without the SIGINT it
sends a finished kernel on shutdown.

jupyter_client interrupts every kernel before asking it to shut down. A kernel that is still inside
a message handler then logs "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel." to the
terminal of `hackkit run`, after notebooks that succeeded (it was read as a failure after a budget
stop). The notebooks have finished when the pipeline shuts a kernel down, so there is nothing to
interrupt; a kernel that does not stop is still killed after the shutdown request times out.
Imported by name through papermill's configuration (quiet_kernel_options), so only when a notebook runs.
"""

from __future__ import annotations

from jupyter_client import AsyncKernelManager


class FinishedKernelManager(AsyncKernelManager):
    """AsyncKernelManager that skips the interrupt on shutdown (an interrupt while running stays)."""

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()
