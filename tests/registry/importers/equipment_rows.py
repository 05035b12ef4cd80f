"""Equipment rows as a provincial ledger lists them (the columns elements.py recognises), in CSV:
the import job, command and page tests' files."""

from __future__ import annotations

import csv
import io

from registry.synthetic.codes import credit_code, device_code
from tests.conftest import XINGQING, inside

HEADER = ["设备代码", "注册代码", "设备品种代码", "设备状态", "经度", "纬度", "行政区划代码",
          "设备使用地点", "使用单位名称", "使用单位统一社会信用代码", "维保单位名称", "投入使用日期",
          "下次检验日期"]  # fmt: skip
MAPPING = {
    "device_code": "设备代码",
    "registration_code": "注册代码",
    "variety": "设备品种代码",
    "status": "设备状态",
    "lon": "经度",
    "lat": "纬度",
    "division_code": "行政区划代码",
    "address": "设备使用地点",
    "use_unit_name": "使用单位名称",
    "use_unit_credit_code": "使用单位统一社会信用代码",
    "maintenance_unit_name": "维保单位名称",
    "commissioned_on": "投入使用日期",
    "next_inspection_due": "下次检验日期",
}


def device_row(serial: int, county: str = XINGQING, **changes) -> dict:
    point = inside(county)
    row = {
        "设备代码": device_code("3110", "T1234", 2020, serial),
        "注册代码": "",
        "设备品种代码": "3110",
        "设备状态": "在用",
        "经度": f"{point.x:.7f}",
        "纬度": f"{point.y:.7f}",
        "行政区划代码": county,
        "设备使用地点": f"测试路{serial}号",
        "使用单位名称": "兴庆测试物业公司",
        "使用单位统一社会信用代码": credit_code(county, 4_000_000),
        "维保单位名称": "",
        "投入使用日期": "2021-05-06",
        "下次检验日期": "2027-05-06",
    }
    row.update(changes)
    return row


def csv_file(rows: list[dict], name: str = "设备台账.csv") -> io.BytesIO:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(rows)
    data = io.BytesIO(buffer.getvalue().encode("utf-8"))
    data.name = name
    return data
