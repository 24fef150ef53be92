"""Exceptions the command line turns into one-line messages (exit status 2) or reports verbatim."""


class UserInputError(Exception):
    """Bad input from the user: a scenario, an experiment file or a command-line value.

    The message is one line that names the dotted field and what is allowed.
    """


class ScenarioError(UserInputError):
    """A scenario file or ``--set`` override is invalid."""


class ExperimentError(UserInputError):
    """An experiment file is invalid."""


class EnvironmentFault(RuntimeError):
    """The machine, not the input, stops the command: a scheduler that cannot be reached, a missing
    system tool, a full disk. The message is one line; the command line exits with status 1."""


class SimulationError(RuntimeError):
    """A numerical failure inside a run; the message names the step, lab and task type."""
