#!/usr/bin/env python3
"""Convert one of NREL's typical-meteorological-year files shipped in the pvlib wheel into rps's
compact replay series (data/replay/*.csv, documented in data/replay/README.md).

Run once per station; the outputs are committed. Usage:
  pip download --no-deps -d /tmp/pvlib pvlib
  unzip -o /tmp/pvlib/pvlib-*.whl 'pvlib/data/723170TYA.CSV' 'pvlib/data/703165TY.csv' 'pvlib/data/12839.tm2' -d /tmp/pvlib
  python3 scripts/make-replay-data.py /tmp/pvlib/pvlib/data/723170TYA.CSV data/replay/greensboro-nc.csv
  python3 scripts/make-replay-data.py /tmp/pvlib/pvlib/data/703165TY.csv data/replay/sand-point-ak.csv
  python3 scripts/make-replay-data.py /tmp/pvlib/pvlib/data/12839.tm2 data/replay/miami-fl.csv

The format is TMY2 for a `.tm2` file and TMY3 otherwise (or say so with --format tmy2|tmy3).
Both stamp rows in local standard time at the end of the hour (01:00 .. 24:00). We keep the
label instant and convert it to UTC with the station's offset from the file header, put every
row on one nominal non-leap year (2001) by hour of year, and wrap the hours that spill past the
year end back to its start, so the series is a periodic year that the replay source can map any
date onto. Units follow Open-Meteo's defaults: degC, %, hPa, km/h, degrees, W/m2.
The station header and the source year of each month are printed to stderr.
"""
import argparse
import csv
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

NOMINAL_YEAR = 2001
HOURS = 8760

# (output column, scale from the TMY3 unit, decimals)
COLUMNS = [
    ("temperature_2m", 1.0, 1),
    ("relative_humidity_2m", 1.0, 0),
    ("dew_point_2m", 1.0, 1),
    ("surface_pressure", 1.0, 0),
    ("wind_speed_10m", 3.6, 1),
    ("wind_direction_10m", 1.0, 0),
    ("cloud_cover", 10.0, 0),
    ("shortwave_radiation", 1.0, 0),
]

TMY3_MISSING = -9900.0
TMY3_FIELDS = {
    "temperature_2m": "Dry-bulb (C)",
    "relative_humidity_2m": "RHum (%)",
    "dew_point_2m": "Dew-point (C)",
    "surface_pressure": "Pressure (mbar)",
    "wind_speed_10m": "Wspd (m/s)",
    "wind_direction_10m": "Wdir (degrees)",
    "cloud_cover": "TotCld (tenths)",
    "shortwave_radiation": "GHI (W/m^2)",
}

# Field widths of a TMY2 data line after its leading space, copied from the format string of
# pvlib.iotools.read_tmy2 (pvlib 0.16.1): '%2d%2d%2d%2d%4d...' in this order.
TMY2_LAYOUT = [
    ("year", 2), ("month", 2), ("day", 2), ("hour", 2), ("ETR", 4), ("ETRN", 4),
    ("GHI", 4), ("GHISource", 1), ("GHIUncertainty", 1),
    ("DNI", 4), ("DNISource", 1), ("DNIUncertainty", 1),
    ("DHI", 4), ("DHISource", 1), ("DHIUncertainty", 1),
    ("GHillum", 4), ("GHillumSource", 1), ("GHillumUncertainty", 1),
    ("DNillum", 4), ("DNillumSource", 1), ("DNillumUncertainty", 1),
    ("DHillum", 4), ("DHillumSource", 1), ("DHillumUncertainty", 1),
    ("Zenithlum", 4), ("ZenithlumSource", 1), ("ZenithlumUncertainty", 1),
    ("TotCld", 2), ("TotCldSource", 1), ("TotCldUncertainty", 1),
    ("OpqCld", 2), ("OpqCldSource", 1), ("OpqCldUncertainty", 1),
    ("DryBulb", 4), ("DryBulbSource", 1), ("DryBulbUncertainty", 1),
    ("DewPoint", 4), ("DewPointSource", 1), ("DewPointUncertainty", 1),
    ("RHum", 3), ("RHumSource", 1), ("RHumUncertainty", 1),
    ("Pressure", 4), ("PressureSource", 1), ("PressureUncertainty", 1),
    ("Wdir", 3), ("WdirSource", 1), ("WdirUncertainty", 1),
    ("Wspd", 3), ("WspdSource", 1), ("WspdUncertainty", 1),
    ("Hvis", 4), ("HvisSource", 1), ("HvisUncertainty", 1),
    ("CeilHgt", 5), ("CeilHgtSource", 1), ("CeilHgtUncertainty", 1),
    ("PresentWeather", 10),
    ("Pwat", 3), ("PwatSource", 1), ("PwatUncertainty", 1),
    ("AOD", 3), ("AODSource", 1), ("AODUncertainty", 1),
    ("SnowDepth", 3), ("SnowDepthSource", 1), ("SnowDepthUncertainty", 1),
    ("LastSnowfall", 2), ("LastSnowfallSource", 1), ("LastSnowfallUncertainty", 1),
]
# TMY2 field and the divisor that brings it to the TMY3 unit (tenths of degC and of m/s).
TMY2_FIELDS = {
    "temperature_2m": ("DryBulb", 10),
    "relative_humidity_2m": ("RHum", 1),
    "dew_point_2m": ("DewPoint", 10),
    "surface_pressure": ("Pressure", 1),
    "wind_speed_10m": ("Wspd", 10),
    "wind_direction_10m": ("Wdir", 1),
    "cloud_cover": ("TotCld", 1),
    "shortwave_radiation": ("GHI", 1),
}


@dataclass
class Row:
    year: int
    month: int
    day: int
    hour: int
    minute: int
    # output column -> value in the TMY3 unit, None when the file marks it missing
    values: dict


@dataclass
class Station:
    header: str
    utc_offset_hours: float
    rows: list


def read_tmy3(path: str) -> Station:
    with open(path, newline="", encoding="latin-1") as f:
        header = next(csv.reader(f))
        records = list(csv.DictReader(f))
    rows = []
    for r in records:
        month, day, year = r["Date (MM/DD/YYYY)"].split("/")
        hh, mm = r["Time (HH:MM)"].split(":")
        values = {}
        for name, field in TMY3_FIELDS.items():
            v = float(r[field])
            values[name] = None if v == TMY3_MISSING else v
        rows.append(Row(int(year), int(month), int(day), int(hh), int(mm), values))
    return Station(",".join(header), float(header[3]), rows)


def tmy2_value(text: str, divisor: int) -> Optional[float]:
    # TMY2 writes a missing value as all nines filling its field (9999, 999, 99).
    if text == "9" * len(text):
        return None
    return int(text) / divisor


def read_tmy2(path: str) -> Station:
    with open(path, encoding="latin-1") as f:
        lines = f.read().splitlines()
    header, data = lines[0], [line for line in lines[1:] if line.strip()]
    utc_offset_hours = float(header.split()[-8])  # WBAN CITY... STATE TZ N dd mm W ddd mm ELEV
    width = 1 + sum(w for _, w in TMY2_LAYOUT)
    rows = []
    for line in data:
        if len(line) != width:
            raise SystemExit(f"TMY2 line of {len(line)} characters, expected {width}: {line[:20]}...")
        fields, cursor = {}, 1
        for name, w in TMY2_LAYOUT:
            fields[name] = line[cursor:cursor + w]
            cursor += w
        values = {name: tmy2_value(fields[field], divisor) for name, (field, divisor) in TMY2_FIELDS.items()}
        rows.append(Row(1900 + int(fields["year"]), int(fields["month"]), int(fields["day"]), int(fields["hour"]), 0, values))
    return Station(header.strip(), utc_offset_hours, rows)


def to_nominal_year(station: Station) -> list:
    year_start = datetime(NOMINAL_YEAR, 1, 1, tzinfo=timezone.utc)
    out = [None] * HOURS
    for row in station.rows:
        local = datetime(NOMINAL_YEAR, row.month, row.day, tzinfo=timezone.utc) + timedelta(hours=row.hour, minutes=row.minute)
        utc = local - timedelta(hours=station.utc_offset_hours)
        index = int((utc - year_start).total_seconds() // 3600) % HOURS
        if out[index] is not None:
            raise SystemExit(f"two rows map to hour {index} of the year")
        out[index] = [format_value(row.values[name], scale, digits) for name, scale, digits in COLUMNS]
    if any(v is None for v in out):
        raise SystemExit("hour-of-year mapping left holes")
    return out


def format_value(v: Optional[float], scale: float, digits: int) -> str:
    return "" if v is None else f"{round(v * scale, digits):.{digits}f}"


def write_series(out: list, dst: str) -> None:
    year_start = datetime(NOMINAL_YEAR, 1, 1, tzinfo=timezone.utc)
    tmp = dst + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time"] + [name for name, *_ in COLUMNS])
        for i, values in enumerate(out):
            t = year_start + timedelta(hours=i)
            w.writerow([t.strftime("%Y-%m-%dT%H:%M")] + values)
    os.replace(tmp, dst)


def describe(station: Station) -> str:
    years = {}
    for row in station.rows:
        years.setdefault(row.month, set()).add(row.year)
    months = ", ".join(f"{m:02d}:{'/'.join(str(y) for y in sorted(ys))}" for m, ys in sorted(years.items()))
    missing = {name: sum(r.values[name] is None for r in station.rows) for name, *_ in COLUMNS}
    return f"{station.header}\nUTC offset {station.utc_offset_hours:+g} h; source year per month {months}\nmissing: {missing}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--format", choices=["tmy2", "tmy3"], help="default: tmy2 for a .tm2 file, else tmy3")
    args = parser.parse_args()
    fmt = args.format or ("tmy2" if args.src.lower().endswith(".tm2") else "tmy3")
    station = read_tmy2(args.src) if fmt == "tmy2" else read_tmy3(args.src)
    if len(station.rows) != HOURS:
        raise SystemExit(f"expected {HOURS} hourly rows, got {len(station.rows)}")
    print(describe(station), file=sys.stderr)
    write_series(to_nominal_year(station), args.dst)


if __name__ == "__main__":
    main()
