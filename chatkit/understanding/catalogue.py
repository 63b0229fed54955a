"""Product catalogues: the product names `EntityExtractor` recognises in messages."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from .entity import Entity

__all__ = ["Product", "ProductCatalogue"]


class Product(BaseModel):
    """A product the customer may name.

    Attributes:
        name: The canonical name, reported as the entity value.
        aliases: Other names and spellings ("아이폰 15", "iphone15").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    aliases: list[str] = []


class ProductCatalogue:
    """The products to recognise, matched case-insensitively, longest name first.

    Args:
        products: Names or `Product` objects.

    Example:
        ```python
        catalogue = ProductCatalogue(["Nova X2", Product(name="AirBeat", aliases=["air beat"])])
        ```
    """

    def __init__(self, products: Iterable[str | Product]) -> None:
        self.products = [p if isinstance(p, Product) else Product(name=p) for p in products]
        names: dict[str, str] = {}
        for product in self.products:
            for name in (product.name, *product.aliases):
                if name.strip():
                    names.setdefault(name.strip().lower(), product.name)
        self._names = names
        alternation = "|".join(
            re.escape(n).replace(r"\ ", r"[\s-]?") for n in sorted(names, key=len, reverse=True)
        )
        self._pattern = (
            re.compile(rf"(?<![0-9A-Za-z])(?:{alternation})(?![0-9A-Za-z])", re.IGNORECASE)
            if names
            else None
        )

    def find(self, text: str) -> list[Entity]:
        """Products named in ``text``."""
        if self._pattern is None:
            return []
        found = []
        for match in self._pattern.finditer(text):
            key = re.sub(r"[\s-]+", " ", match.group(0).lower())
            name = self._names.get(key) or self._names.get(match.group(0).lower())
            if name is None:  # matched with a different separator
                name = next(
                    (v for k, v in self._names.items() if re.sub(r"[\s-]+", " ", k) == key),
                    match.group(0),
                )
            found.append(Entity("product", name, match.group(0), match.start(), match.end()))
        return found
