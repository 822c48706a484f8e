#!/usr/bin/env python3
"""Convert NREL's typical meteorological years shipped in the pvlib wheel into rps's compact replay
series under data/replay/ (TMY3 CSV, or TMY2 fixed-width when the file ends in .tm2).

Run once per station; the outputs are committed. Usage:
  pip download --no-deps -d /tmp/pvlib pvlib==0.16.1
  unzip -o /tmp/pvlib/pvlib-*.whl 'pvlib/data/723170TYA.CSV' 'pvlib/data/703165TY.csv' 'pvlib/data/12839.tm2' -d /tmp/pvlib
  python3 scripts/make-replay-data.py /tmp/pvlib/pvlib/data/723170TYA.CSV data/replay/greensboro-nc.csv
  python3 scripts/make-replay-data.py /tmp/pvlib/pvlib/data/703165TY.csv data/replay/sand-point-ak.csv
  python3 scripts/make-replay-data.py /tmp/pvlib/pvlib/data/12839.tm2 data/replay/miami-fl.csv

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

# TMY2 (NREL's User's Manual for TMY2s, 1995): fixed-width fields after a leading space, in the order
# and widths of pvlib.iotools.read_tmy2. Each measured field is followed by a 1-character source flag
# and a 1-digit uncertainty flag. Only the fields rps uses are named; the rest are skipped by width.
TMY2_FIELDS = [
    ("year", 2), ("month", 2), ("day", 2), ("hour", 2), ("ETR", 4), ("ETRN", 4),
    ("GHI", 4), (None, 2), ("DNI", 4), (None, 2), ("DHI", 4), (None, 2),
    ("GHillum", 4), (None, 2), ("DNillum", 4), (None, 2), ("DHillum", 4), (None, 2), ("Zenithlum", 4), (None, 2),
    ("TotCld", 2), (None, 2), ("OpqCld", 2), (None, 2), ("DryBulb", 4), (None, 2), ("DewPoint", 4), (None, 2),
    ("RHum", 3), (None, 2), ("Pressure", 4), (None, 2), ("Wdir", 3), (None, 2), ("Wspd", 3), (None, 2),
]
# TMY2 units -> the TMY3 fields above: temperatures and wind speed are stored in tenths.
TMY2_AS_TMY3 = {
    "Dry-bulb (C)": ("DryBulb", 0.1), "RHum (%)": ("RHum", 1.0), "Dew-point (C)": ("DewPoint", 0.1),
    "Pressure (mbar)": ("Pressure", 1.0), "Wspd (m/s)": ("Wspd", 0.1), "Wdir (degrees)": ("Wdir", 1.0),
    "TotCld (tenths)": ("TotCld", 1.0), "GHI (W/m^2)": ("GHI", 1.0),
}


def read_tmy3(src: str) -> tuple[float, list[dict[str, str]]]:
    with open(src, newline="", encoding="latin-1") as f:
        header = next(csv.reader(f))
        return float(header[3]), list(csv.DictReader(f))


def read_tmy2(src: str) -> tuple[float, list[dict[str, str]]]:
    """TMY2 rows as TMY3-shaped records (same field names and units), and the UTC offset of its header."""
    with open(src, encoding="latin-1") as f:
        lines = f.read().splitlines()
    utc_offset_hours = float(lines[0].split()[3])
    rows = []
    for line in lines[1:]:
        if not line.strip():
            continue
        cursor, raw = 1, {}
        for name, width in TMY2_FIELDS:
            if name:
                raw[name] = line[cursor:cursor + width]
            cursor += width
        row = {"Date (MM/DD/YYYY)": f"{int(raw['month']):02d}/{int(raw['day']):02d}/{NOMINAL_YEAR}", "Time (HH:MM)": f"{int(raw['hour']):02d}:00"}
        for tmy3_name, (field, scale) in TMY2_AS_TMY3.items():
            row[tmy3_name] = repr(round(float(raw[field]) * scale, 6))
        rows.append(row)
    return utc_offset_hours, rows


def main(src: str, dst: str) -> None:
    utc_offset_hours, rows = read_tmy2(src) if src.lower().endswith(".tm2") else read_tmy3(src)
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
