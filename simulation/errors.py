"""Exceptions the command line turns into one-line messages: bad input (exit status 2), environment faults
and numerical failures (exit status 1)."""


class UserInputError(Exception):
    """Bad input from the user: a scenario, an experiment file or a command-line value.

    The message is one line that names the dotted field and what is allowed.
    """


class ScenarioError(UserInputError):
    """A scenario file or ``--set`` override is invalid."""


class ExperimentError(UserInputError):
    """An experiment file is invalid."""


class SimulationError(RuntimeError):
    """A numerical failure inside a run; the message names the step, lab and task type."""


class StoreError(UserInputError):
    """A results folder (manifest, run folders) that is corrupt or not what the command expects."""


class EnvironmentFault(Exception):
    """A fault of the machine, not of the input: a disk that is full, a folder that cannot be written,
    a scheduler that cannot be reached. The command line prints the one-line message, exit status 1."""
