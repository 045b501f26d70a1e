"""Settings: the defaults the README documents, then a TOML file, then the options given; a bad
file or value is one line naming the setting; the settings never change once loaded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.settings import (
    EvaluateSettings,
    IngestSettings,
    RunSettings,
    ScoreSettings,
    ServeSettings,
    Settings,
    SettingsError,
    TrainSettings,
)


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schoolpoort.toml"
    path.write_text(text, "utf-8")
    return path


def test_without_a_file_or_options_the_settings_are_the_documented_defaults() -> None:
    settings = Settings.load()
    assert settings == Settings()
    assert settings.workspace == Path("workspace")
    assert settings.ingest == IngestSettings(
        codes="flanders",
        allow_unknown_codes=False,
        morning_lessons=4,  # lessons 1-4 are the morning
        new_key=False,
        max_quarantine_share=0.05,  # more than 5% of a table quarantined stops ingest
        accept_quarantine=False,
        drop_tables=(),
    )
    assert settings.train == TrainSettings(
        until=None,
        horizon_weeks=8,  # a case's label date within 8 weeks after the as-of date
        calibration_weeks=8,
        test_weeks=8,
        max_splits=6,
        min_fit_weeks=26,
        negative_fraction=0.25,
        seed=0,
        model_name="schoolpoort-risk",
    )
    assert settings.score == ScoreSettings(
        list_percent=2.0,  # the top 2% of each school ...
        list_min=3,  # ... and at least 3 pupils
        explain_percent=10.0,
        language="nl",  # reasons in Dutch unless --language en
        model_name="schoolpoort-risk",
    )
    assert settings.evaluate == EvaluateSettings(
        model="scorecard",
        list_percent=2.0,
        signal_percent=5.0,
        bootstrap=200,
        shap_rows=2000,
        min_cell=10,
        seed=0,
    )
    assert settings.serve == ServeSettings(
        export=None,  # the folder the workspace last ingested
        cron="0 6 * * 1",  # Mondays 06:00 ...
        timezone="Europe/Brussels",  # ... in Brussels
    )
    assert settings.run == RunSettings(
        runner="local",  # in this process, unless --runner dask
        dask_address=None,  # with dask: a local cluster unless an address is given ...
        dask_workers=2,  # ... of two worker processes
        shards=8,  # the board's schools in at most 8 groups
    )


def test_the_file_overrides_the_defaults_and_the_options_override_the_file(
    tmp_path: Path,
) -> None:
    config = toml(
        tmp_path,
        '[ingest]\ncodes = "edfi"\nmax_quarantine_share = 0.1\n'
        "[score]\nlist_percent = 5\nlanguage = 'en'\n",
    )
    settings = Settings.load(config, score__list_percent=10, ingest__codes=None)
    assert settings.score.list_percent == 10.0  # the option beats the file
    assert settings.score.language == "en"  # the file beats the default
    assert settings.ingest.codes == "edfi"  # an option not given (None) leaves the file's
    assert settings.ingest.max_quarantine_share == 0.1
    assert settings.score.list_min == 3  # what neither says stays the default
    assert settings.train == TrainSettings()
    assert settings.workspace == Path("workspace")


def test_options_name_their_section_with_double_underscores(tmp_path: Path) -> None:
    settings = Settings.load(
        workspace=tmp_path / "ws",
        ingest__drop_tables=("care_cases", "students"),
        ingest__accept_quarantine=True,
        train__until=dt.date(2025, 3, 10),
        evaluate__model="monotone_gbm",
        serve__export=None,
    )
    assert settings.workspace == tmp_path / "ws"
    assert settings.ingest.drop_tables == ("care_cases", "students")
    assert settings.ingest.accept_quarantine is True
    assert settings.ingest.max_quarantine_share == 0.05
    assert settings.train.until == dt.date(2025, 3, 10)
    assert settings.evaluate.model == "monotone_gbm"
    assert settings.serve.export is None


def test_a_file_gives_dates_lists_and_paths_their_types(tmp_path: Path) -> None:
    config = toml(
        tmp_path,
        'workspace = "elsewhere"\n'
        '[ingest]\ndrop_tables = ["care_cases"]\n'
        "[train]\nuntil = 2025-03-10\n"
        '[serve]\nexport = "/exports/weekly"\n',
    )
    settings = Settings.load(config)
    assert settings.workspace == Path("elsewhere")
    assert settings.ingest.drop_tables == ("care_cases",)
    assert settings.train.until == dt.date(2025, 3, 10)
    assert settings.serve.export == Path("/exports/weekly")


BAD_FILES = {
    # (the file's text, the one line it gives)
    "an unknown key": (
        "[score]\nlist_procent = 5\n",
        "setting score.list_procent: Extra inputs are not permitted",
    ),
    "an unknown section": (
        "[scoring]\nlist_percent = 5\n",
        "setting scoring: Extra inputs are not permitted",
    ),
    "a share over 1": (
        "[ingest]\nmax_quarantine_share = 1.5\n",
        "setting ingest.max_quarantine_share: Input should be less than or equal to 1",
    ),
    "a list of no percent": (
        "[score]\nlist_percent = 0\n",
        "setting score.list_percent: Input should be greater than 0",
    ),
    "a language not offered": (
        '[score]\nlanguage = "fr"\n',
        "setting score.language: Input should be 'nl' or 'en'",
    ),
    "a word for a number": (
        '[train]\nhorizon_weeks = "eight"\n',
        "setting train.horizon_weeks: Input should be a valid integer, unable to parse string as an integer",
    ),
    "a section that is a value": (
        "score = 3\n",
        "setting score: Input should be a valid dictionary or instance of ScoreSettings",
    ),
}


@pytest.mark.parametrize(("text", "line"), list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_a_bad_setting_in_the_file_is_one_line_naming_it(
    tmp_path: Path, text: str, line: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(toml(tmp_path, text))
    assert str(caught.value) == line


def test_a_bad_option_is_one_line_naming_it() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(score__list_percent=101)
    assert (
        str(caught.value) == "setting score.list_percent: Input should be less than or equal to 100"
    )
    with pytest.raises(SettingsError) as caught:
        Settings.load(ingest__bogus=True)
    assert str(caught.value) == "setting ingest.bogus: Extra inputs are not permitted"


def test_a_file_that_cannot_be_read_is_one_line_naming_it(tmp_path: Path) -> None:
    config = toml(tmp_path, "[score\nlist_percent = 5\n")
    with pytest.raises(SettingsError) as caught:
        Settings.load(config)
    assert str(caught.value) == (
        f"{config}: cannot read settings "
        "(Expected ']' at the end of a table declaration (at line 1, column 7))"
    )
    missing = tmp_path / "missing.toml"
    with pytest.raises(SettingsError) as caught:
        Settings.load(missing)
    assert str(caught.value) == (
        f"{missing}: cannot read settings ([Errno 2] No such file or directory: '{missing}')"
    )


def test_an_option_inside_a_section_the_file_gives_as_a_value_is_still_one_line(
    tmp_path: Path,
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(toml(tmp_path, "score = 3\n"), score__language="en")
    assert str(caught.value).startswith("setting score")


def test_settings_never_change_once_loaded() -> None:
    settings = Settings.load(score__list_percent=5)
    with pytest.raises(ValidationError, match="Instance is frozen"):
        settings.score.list_percent = 10  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Instance is frozen"):
        settings.workspace = Path("elsewhere")  # type: ignore[misc]
    assert settings.score.list_percent == 5.0
    assert hash(settings) == hash(Settings.load(score__list_percent=5))  # usable as a key


def test_a_settings_object_built_in_code_forbids_unknown_names_too() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ScoreSettings(list_procent=5)  # type: ignore[call-arg]
