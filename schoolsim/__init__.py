"""schoolsim: a seeded, deterministic simulator of a Flemish secondary-school board.

It writes the exports the pipeline reads (enrolments, absences, late arrivals, sick-bay
visits, students, care cases) for a board of any size, with pupils who follow an
ordinary school year, or develop school refusal, truancy, a chronic illness, withdrawal
or exclusion, and keeps the truth hidden beside it. docs/simulator.md lists every
assumption and where it comes from.

>>> from schoolsim import SimulationSettings, simulate, write_export
>>> sim = simulate(SimulationSettings(students=200, years=1, seed=3))
>>> sim.tables["absences"].columns
['student_id', 'date', 'period', 'code', 'minutes']
"""

from schoolsim.api import Simulation, SimulationSettings, simulate, write_export
from schoolsim.assumptions import DEFAULT, Assumptions

__all__ = [
    "DEFAULT",
    "Assumptions",
    "Simulation",
    "SimulationSettings",
    "simulate",
    "write_export",
]
