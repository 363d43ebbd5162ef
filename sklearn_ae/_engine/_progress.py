"""What a fit prints: a progress bar or one line per epoch, in the user's units.

``verbose=1`` draws a progress bar over the epochs (tqdm) with the losses and
the time left when the output is a terminal, and prints one plain line per
epoch otherwise (a log file or a pipe gets no escape codes); ``verbose=2``
prints one line per epoch everywhere. The losses are shown in X's units: for
``loss="mse"`` the module's loss times ``scale_**2``, i.e. the mean squared
error that ``-score(X)`` reports (plus any penalty the training loss
carries). The last line says why training stopped, and which epoch's weights
were kept.

skorch's own ``PrintLog`` is silenced (the net runs with ``verbose=0``): it
prints the module's units, colours a file as it colours a terminal, and the
epoch at which early stopping fires never reaches it.
"""

import sys
import time

from skorch.callbacks import Callback

from ._distributed import current_group

__all__ = ["Progress"]

_BOLD_CYAN, _RESET = "\033[1;36m", "\033[0m"


def _is_terminal(stream):
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class Progress(Callback):
    """Reports each epoch, from process 0 only in data-parallel training.

    Parameters
    ----------
    verbose : int
        The estimator's ``verbose``: 0 silent, 1 a bar on a terminal (else
        lines), 2 a line per epoch.

    units : float
        Factor from the module's loss to X's units (``scale_**2`` for MSE).

    stopper : str or None
        Name of the net's early-stopping callback, whose state says why the
        fit ended and which epoch it kept.

    stream : file-like or None
        Where to write; None is ``sys.stdout`` at the time of the fit.
    """

    def __init__(self, verbose, units, stopper=None, stream=None):
        self.verbose = verbose
        self.units = units
        self.stopper = stopper
        self.stream = stream

    def initialize(self):
        self.bar_ = None
        self.start_ = None
        return self

    def _out(self):
        # Looked up at each use, never stored: a fitted net must pickle.
        return self.stream or sys.stdout

    def _active(self):
        group = current_group()
        return self.verbose and (group is None or group.rank == 0)

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()
        self.first_ = len(net.history)
        # The epochs this call may run (fit: max_iter; partial_fit: 1).
        self.epochs_ = net.max_epochs
        self.colour_ = _is_terminal(self._out())
        if self._active() and self.verbose == 1 and self.colour_:
            from tqdm.auto import tqdm

            self.bar_ = tqdm(total=self.epochs_, unit="epoch", file=self._out())

    def _losses(self, row):
        shown = {}
        for key in ("train_loss", "valid_loss"):
            if key in row:
                shown[key] = (row[key] * self.units, row.get(f"{key}_best", False))
        return shown

    def on_epoch_end(self, net, **kwargs):
        if not self._active():
            return
        row = net.history[-1]
        losses = self._losses(row)
        if self.bar_ is not None:
            self.bar_.set_postfix(
                {k: f"{v:.4g}" for k, (v, _) in losses.items()}, refresh=False
            )
            self.bar_.update(1)
            return
        epoch = len(net.history) - self.first_
        width = len(str(self.epochs_))
        parts = [f"epoch {epoch:>{width}}/{self.epochs_}"]
        for key, (value, best) in losses.items():
            text = f"{value:<10.5g}"
            if best and self.colour_:
                text = f"{_BOLD_CYAN}{text}{_RESET}"
            parts.append(f"{key} {text}")
        parts.append(f"{row['dur']:.2f} s")
        print("  ".join(parts), file=self._out(), flush=True)

    def on_train_end(self, net, **kwargs):
        if self.bar_ is not None:
            self.bar_.close()
            self.bar_ = None
        if not self._active() or self.epochs_ == 1:
            return  # (one partial_fit epoch: its line says it all)
        epochs = len(net.history) - self.first_
        seconds = time.perf_counter() - self.start_
        summary = f"Trained {epochs} epoch{'s' * (epochs != 1)} in {seconds:.1f} s"
        stopper = dict(net.callbacks_).get(self.stopper)
        if stopper is not None and stopper.stopped_:
            units = " (in the scaled data's units)" if self.units != 1 else ""
            summary += (
                f": {stopper.monitor} did not improve by tol={stopper.tol:g}{units} "
                f"for {stopper.patience} epochs"
            )
        if stopper is not None and stopper.restore_best:
            if stopper.best_epoch_ == 0:
                summary += (
                    f"; no epoch's {stopper.monitor} beat the start's "
                    "(PCA's solution, kept as epoch 0)"
                )
            elif stopper.best_epoch_ is not None:
                best = stopper.best_epoch_ - net.history[self.first_, "epoch"] + 1
                summary += (
                    f"; kept the weights of epoch {best}, the best {stopper.monitor}"
                )
        print(summary + ".", file=self._out(), flush=True)
