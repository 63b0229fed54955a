"""The v4 default associations of the emulated HubSpot portal (ticket-contact, note-ticket)."""

from __future__ import annotations

from ._records import DEFAULT_ASSOCIATION_TYPES, SINGULAR, Record
from ._state_objects import _ObjectState
from ._state_properties import InputError


class _AssociationState(_ObjectState):
    """Associations between the records of `HubSpotState`."""

    associations: dict[tuple[str, int, str], dict[int, list[int]]]

    def _link(
        self, from_type: str, from_id: int, to_type: str, to_id: int, type_ids: list[int]
    ) -> None:
        forward = DEFAULT_ASSOCIATION_TYPES[(from_type, to_type)]
        backward = DEFAULT_ASSOCIATION_TYPES[(to_type, from_type)]
        ids = self.associations.setdefault((from_type, from_id, to_type), {}).setdefault(to_id, [])
        if forward not in ids:
            ids.append(forward)
        back = self.associations.setdefault((to_type, to_id, from_type), {}).setdefault(from_id, [])
        if backward not in back:
            back.append(backward)
        del type_ids  # only the default (unlabeled) association is emulated

    def associate_default(
        self, from_type: str, from_id: object, to_type: str, to_id: object
    ) -> Record:
        """Create the default association between two records (both must exist)."""
        with self.lock:
            self._check_type(from_type)
            self._check_type(to_type)
            if (from_type, to_type) not in DEFAULT_ASSOCIATION_TYPES:
                raise InputError(
                    f"No default association between {from_type} and {to_type}",
                    "VALIDATION_ERROR",
                )
            source = self._find(from_type, from_id, None)
            target = self._find(to_type, to_id, None)
            if source is None or target is None:
                missing = from_id if source is None else to_id
                raise InputError(
                    f"No {SINGULAR[from_type if source is None else to_type]} with id {missing}",
                    "OBJECT_NOT_FOUND",
                    ids=[str(missing)],
                )
            self._link(from_type, source.id, to_type, target.id, [])
            return {
                "from": {"id": str(source.id)},
                "to": {"id": str(target.id)},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": DEFAULT_ASSOCIATION_TYPES[(from_type, to_type)],
                },
            }

    def associated(self, from_type: str, from_id: object, to_type: str) -> list[Record]:
        """The v4 ``to`` list of a record's associations with ``to_type`` (live records)."""
        with self.lock:
            try:
                key = (from_type, int(str(from_id)), to_type)
            except ValueError:
                return []
            linked = self.associations.get(key, {})
            return [
                {
                    "toObjectId": to_id,
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": t, "label": None} for t in types
                    ],
                }
                for to_id, types in sorted(linked.items())
                if to_id in self.objects[to_type] and not self.objects[to_type][to_id].archived
            ]
