"""A city's reference data, typed: wards, categories, agencies, time zone.

See :func:`load_city_data`. Depends on pydantic, PyYAML and phananh_contracts (machine codes).
"""

from phananh_citydata.model import (
    Agency,
    AgencyLevel,
    Category,
    CityData,
    CityDataError,
    CityIdentity,
    TimeZoneName,
    Ward,
    load_city_data,
)

__all__ = [
    "Agency",
    "AgencyLevel",
    "Category",
    "CityData",
    "CityDataError",
    "CityIdentity",
    "TimeZoneName",
    "Ward",
    "load_city_data",
]
