"""`/api/views/{id}.json`: dataset metadata in the shape sodapy's get_metadata() returns."""

from __future__ import annotations

from typing import Any

from citysim.replay.dataset_stores import AnyStore
from citysim.replay.schemas import schema_for

# The metadata API names some types differently from SODA2 response headers.
_DATA_TYPE_NAMES = {"floating_timestamp": "calendar_date", "fixed_timestamp": "date"}


def view_metadata(store: AnyStore, dataset_id: str) -> dict[str, Any]:
    schema = schema_for(dataset_id)
    table = store.tables[dataset_id]
    names = {c.field: c.name for c in schema.columns}
    updated = store.rows_updated_epoch(dataset_id)  # moved by every publish: changes.apply_changes
    columns = []
    key_column_id = None
    for position, (field, typ) in enumerate(table.columns, start=1):
        column_id = 100000 + position
        data_type = _DATA_TYPE_NAMES.get(typ, typ)
        if field == schema.key:
            key_column_id = column_id
        columns.append(
            {
                "id": column_id,
                "name": names.get(field, field),
                "dataTypeName": data_type,
                "description": "",
                "fieldName": field,
                "position": position,
                "renderTypeName": data_type,
                "tableColumnId": 200000 + position,
                "format": {},
            }
        )
    return {
        "id": dataset_id,
        "name": schema.name,
        "assetType": "dataset",
        "displayType": "table",
        "createdAt": updated,
        "publicationDate": updated,
        "rowsUpdatedAt": updated,
        "viewLastModified": updated,
        "newBackend": True,
        "provenance": "official",
        "rowIdentifierColumnId": key_column_id,
        "columns": columns,
    }
