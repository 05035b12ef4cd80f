"""Jurisdictions: GB/T 2260 administrative divisions with their boundaries."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .divisions import Level, child_level, code_prefix
from .scoping import ScopedQuerySet

# Level and code_prefix live in geo.divisions; they are imported from here too.
__all__ = ["Level", "Region", "RegionQuerySet", "code_prefix"]


_LOCATED_FIELDS = ["code", "name", "level", "parent_id", "source"]
_LOCATE_COUNTY = (
    f"SELECT {', '.join(_LOCATED_FIELDS)} FROM geo_region WHERE level = %s"
    " AND ST_Intersects(boundary, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) ORDER BY code LIMIT 1"
)


class RegionQuerySet(ScopedQuerySet):
    scope_lookup = "code"

    def counties(self) -> RegionQuerySet:
        return self.filter(level=Level.COUNTY)

    def listable(self, most: int = 600) -> RegionQuerySet:
        """These regions as choices in a form: without counties while they would be too many."""
        return self.exclude(level=Level.COUNTY) if self.count() > most else self

    def below(self, prefix: str) -> RegionQuerySet:
        """The regions one level below a prefix (provinces, cities, counties); a county's prefix
        gives the county itself."""
        regions = self.within_prefix(prefix)
        if len(prefix) == 6:
            return regions.filter(code=prefix)
        return regions.filter(level=child_level(prefix))


CITY_DISTRICT_SUFFIX, NOT_A_CITY_DISTRICT = "区", "林区"


def city_district(region_path: str = "") -> models.Q:
    """`Region.is_city_district` as a filter on the regions at `region_path` ('' for regions)."""
    name = f"{region_path}__name" if region_path else "name"
    return models.Q(**{f"{name}__endswith": CITY_DISTRICT_SUFFIX}) & ~models.Q(
        **{f"{name}__endswith": NOT_A_CITY_DISTRICT}
    )


class Region(models.Model):
    """A GB/T 2260 division (province, city or county) and its boundary in WGS84."""

    # The code is the key: scoped filters become `region_id LIKE '64%'` with no join.
    code = models.CharField(_("行政区划代码"), max_length=6, primary_key=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("级别"), max_length=8, choices=Level.choices, db_index=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("上级"),
    )
    boundary = models.MultiPolygonField(_("边界"), srid=4326)
    source = models.CharField(_("数据来源"), max_length=64, blank=True)
    # The seat of government (驻地): where a region's offices are, unlike its geometric centre,
    # which may lie in empty country. Boundary files do not carry it: the demo generator sets it.
    seat = models.PointField(_("驻地"), srid=4326, null=True, blank=True)

    objects = RegionQuerySet.as_manager()

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = pgettext_lazy("plural", "行政区划")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(boundary__isvalid=True), name="region_boundary_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_city_district(self) -> bool:
        """A county-level city district (市辖区): its name ends in 区, but not in 林区 (神农架林区,
        a forestry district). Counties (县), county-level cities (市) and banners (旗) are not;
        travel there is faster (response, patrol). `city_district()` is the same rule in SQL."""
        return self.name.endswith(CITY_DISTRICT_SUFFIX) and not self.name.endswith(
            NOT_A_CITY_DISTRICT
        )

    @property
    def code_prefix(self) -> str:
        return code_prefix(self.code, self.level)

    @classmethod
    def locate(cls, point: Point) -> Region | None:
        """The county whose boundary contains the point (WGS84), or None outside every loaded county."""
        if point is None or point.empty:
            return None
        # One fixed statement rather than the queryset `counties().filter(boundary__intersects=
        # point).defer("boundary").first()`: compiling that and adapting the point took 0.55 ms,
        # twice the statement itself, on every incident located and every record placed. The
        # boundary stays deferred (thousands of vertices no caller reads) as with `defer`, and the
        # seat (patrol reads it on its own).
        with connection.cursor() as cursor:
            cursor.execute(*cls.locate_sql(point))
            row = cursor.fetchone()
        return None if row is None else cls.from_db(connection.alias, _LOCATED_FIELDS, row)

    @classmethod
    def locate_sql(cls, point: Point) -> tuple[str, list]:
        """`locate`'s statement and parameters: one row of the county's columns (boundary left
        out), or none; for a caller that runs it inside a statement of its own (`from_located`
        then reads its row as JSON)."""
        if point.srid not in (None, 4326):
            point = point.transform(4326, clone=True)
        return _LOCATE_COUNTY, [Level.COUNTY.value, point.x, point.y]

    @classmethod
    def from_located(cls, row: dict | None) -> Region | None:
        """The county of a `locate_sql` row read as a JSON object (`row_to_json`)."""
        if row is None:
            return None
        return cls.from_db(connection.alias, _LOCATED_FIELDS, [row[f] for f in _LOCATED_FIELDS])


class RegionOutline(models.Model):
    """A region's boundary simplified by one tolerance, as the maps serve it: GeoJSON text and a
    label point. Kept by `geo.outlines` (filled the first time a map asks for that region and
    tolerance); a trigger deletes a region's rows when its boundary changes, so none is stale.
    Simplifying a province's outlines costs ~0.1–0.2 s a request at real boundaries' detail;
    reading them back costs a millisecond."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="outlines")
    # Degrees, `geo.basemap.outline_tolerance` of the viewer's jurisdiction: a handful of values.
    tolerance = models.FloatField()
    geometry = models.TextField()  # GeoJSON, 5 decimals (≈ 1 m)
    label = models.PointField(srid=4326, null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["region", "tolerance"], name="region_outline_unique"),
        ]
