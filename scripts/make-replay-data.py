#!/usr/bin/env python3
"""Convert NREL's TMY3 file for Greensboro NC (shipped in the pvlib wheel as
pvlib/data/723170TYA.CSV) into rps's compact replay series, data/replay/greensboro-nc.csv.

Run once; the output is committed. Usage:
  pip download --no-deps -d /tmp/pvlib pvlib && unzip -o /tmp/pvlib/pvlib-*.whl 'pvlib/data/723170TYA.CSV' -d /tmp/pvlib
  python3 scripts/make-replay-data.py /tmp/pvlib/pvlib/data/723170TYA.CSV data/replay/greensboro-nc.csv

TMY3 times are local standard time (UTC-5 here), labelled at the end of the hour (01:00 .. 24:00).
We keep the label instant and convert it to UTC, put every row on one nominal non-leap year
(2001) by hour of year, and wrap the five hours that spill past the year end back to its start,
so the series is a periodic year that the replay source can map any date onto.
Units follow Open-Meteo's defaults: degC, %, hPa, km/h, degrees, W/m2.
"""
import csv
import sys
from datetime import datetime, timedelta, timezone

MISSING = -9900.0
COLUMNS = [
    ("temperature_2m", "Dry-bulb (C)", 1.0, 1),
    ("relative_humidity_2m", "RHum (%)", 1.0, 0),
    ("dew_point_2m", "Dew-point (C)", 1.0, 1),
    ("surface_pressure", "Pressure (mbar)", 1.0, 0),
    ("wind_speed_10m", "Wspd (m/s)", 3.6, 1),
    ("wind_direction_10m", "Wdir (degrees)", 1.0, 0),
    ("cloud_cover", "TotCld (tenths)", 10.0, 0),
    ("shortwave_radiation", "GHI (W/m^2)", 1.0, 0),
]
NOMINAL_YEAR = 2001


def main(src: str, dst: str) -> None:
    with open(src, newline="", encoding="latin-1") as f:
        header = next(csv.reader(f))
        utc_offset_hours = float(header[3])
        reader = csv.DictReader(f)
        rows = list(reader)
    if len(rows) != 8760:
        raise SystemExit(f"expected 8760 hourly rows, got {len(rows)}")
    year_start = datetime(NOMINAL_YEAR, 1, 1, tzinfo=timezone.utc)
    out = [None] * 8760
    for row in rows:
        month, day, _ = row["Date (MM/DD/YYYY)"].split("/")
        hh, mm = row["Time (HH:MM)"].split(":")
        local = datetime(NOMINAL_YEAR, int(month), int(day), tzinfo=timezone.utc) + timedelta(hours=int(hh), minutes=int(mm))
        utc = local - timedelta(hours=utc_offset_hours)
        index = int((utc - year_start).total_seconds() // 3600) % 8760
        values = []
        for _, col, scale, digits in COLUMNS:
            v = float(row[col])
            values.append("" if v == MISSING else f"{round(v * scale, digits):.{digits}f}")
        out[index] = values
    if any(v is None for v in out):
        raise SystemExit("hour-of-year mapping left holes")
    tmp = dst + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time"] + [name for name, *_ in COLUMNS])
        for i, values in enumerate(out):
            t = year_start + timedelta(hours=i)
            w.writerow([t.strftime("%Y-%m-%dT%H:%M")] + values)
    import os
    os.replace(tmp, dst)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
