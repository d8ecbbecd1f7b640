"""What the demo project holds before the run, and what the demo agents write into it.

The files written by the agents make the demo's own test suite pass once all the tasks
are merged, so the demo shows a real validation, not a pretend one.
"""

from __future__ import annotations

BASE_FILES: dict[str, str] = {
    "README.md": "# shop\n\nA tiny shop used by the tui-orch demo.\n",
    "pyproject.toml": (
        '[project]\nname = "shop"\nversion = "0.1.0"\n\n'
        '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n'
    ),
    ".gitignore": "__pycache__/\n.pytest_cache/\n.env\n",
    "src/shop/__init__.py": '"""A tiny shop: items, orders, stock and a request handler."""\n',
    "tests/test_package.py": (
        "import shop\n\n\ndef test_package_has_a_docstring():\n    assert shop.__doc__\n"
    ),
}

# Ignored by git, copied into every worktree by tui-orch (agents often need such files).
IGNORED_FILES: dict[str, str] = {".env": "SHOP_CURRENCY=EUR\n"}

TASK_FILES: dict[str, str] = {
    "src/shop/money.py": '''"""Money as whole cents, so sums never drift."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Money:
    cents: int
    currency: str = "EUR"

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.cents + other.cents, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.cents * quantity, self.currency)

    def __str__(self) -> str:
        return f"{self.cents / 100:.2f} {self.currency}"
''',
    "src/shop/models.py": '''"""Items and orders."""

from __future__ import annotations

from dataclasses import dataclass, field

from shop.money import Money


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    price: Money


@dataclass
class Order:
    lines: list[tuple[Item, int]] = field(default_factory=list)

    def add(self, item: Item, quantity: int) -> None:
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        self.lines.append((item, quantity))

    def total(self) -> Money:
        total = Money(0)
        for item, quantity in self.lines:
            total = total + item.price.times(quantity)
        return total
''',
    "tests/test_models.py": """from shop.models import Item, Order
from shop.money import Money


def test_order_total_adds_every_line():
    order = Order()
    order.add(Item("tea", "Green tea", Money(450)), 2)
    order.add(Item("cup", "Cup", Money(1200)), 1)
    assert order.total() == Money(2100)
    assert str(order.total()) == "21.00 EUR"
""",
    "src/shop/inventory.py": '''"""Stock levels per item."""

from __future__ import annotations


class OutOfStock(Exception):
    pass


class Inventory:
    def __init__(self) -> None:
        self.stock: dict[str, int] = {}

    def add(self, sku: str, quantity: int) -> None:
        self.stock[sku] = self.stock.get(sku, 0) + quantity

    def reserve(self, sku: str, quantity: int) -> None:
        if self.stock.get(sku, 0) < quantity:
            raise OutOfStock(sku)
        self.stock[sku] -= quantity
''',
    "src/shop/service.py": '''"""Placing orders against the catalogue and the stock."""

from __future__ import annotations

from shop.inventory import Inventory
from shop.models import Item, Order


class Shop:
    def __init__(self) -> None:
        self.catalogue: dict[str, Item] = {}
        self.inventory = Inventory()

    def stock(self, item: Item, quantity: int) -> None:
        self.catalogue[item.sku] = item
        self.inventory.add(item.sku, quantity)

    def place_order(self, quantities: dict[str, int]) -> Order:
        order = Order()
        for sku, quantity in quantities.items():
            self.inventory.reserve(sku, quantity)
            order.add(self.catalogue[sku], quantity)
        return order
''',
    "tests/test_service.py": """import pytest

from shop.inventory import OutOfStock
from shop.models import Item
from shop.money import Money
from shop.service import Shop


def test_an_order_reserves_stock():
    shop = Shop()
    shop.stock(Item("tea", "Green tea", Money(450)), 3)
    order = shop.place_order({"tea": 2})
    assert order.total() == Money(900)
    assert shop.inventory.stock["tea"] == 1


def test_no_order_beyond_the_stock():
    shop = Shop()
    shop.stock(Item("tea", "Green tea", Money(450)), 1)
    with pytest.raises(OutOfStock):
        shop.place_order({"tea": 2})
""",
    "src/shop/serializers.py": '''"""Orders as plain dictionaries, for the API."""

from __future__ import annotations

from shop.models import Order


def order_to_dict(order: Order) -> dict[str, object]:
    return {
        "lines": [
            {"sku": item.sku, "quantity": quantity, "price": str(item.price)}
            for item, quantity in order.lines
        ],
        "total": str(order.total()),
    }
''',
    "src/shop/api.py": '''"""A request handler: dictionaries in, dictionaries out."""

from __future__ import annotations

from shop.inventory import OutOfStock
from shop.serializers import order_to_dict
from shop.service import Shop


def handle(shop: Shop, request: dict[str, object]) -> dict[str, object]:
    if request.get("action") != "order":
        return {"status": 400, "error": "unknown action"}
    try:
        order = shop.place_order(dict(request.get("items", {})))  # type: ignore[arg-type]
    except OutOfStock as missing:
        return {"status": 409, "error": f"out of stock: {missing}"}
    return {"status": 200, "order": order_to_dict(order)}
''',
    "tests/test_api.py": """from shop.api import handle
from shop.models import Item
from shop.money import Money
from shop.service import Shop


def make_shop():
    shop = Shop()
    shop.stock(Item("tea", "Green tea", Money(450)), 5)
    return shop


def test_order_request():
    answer = handle(make_shop(), {"action": "order", "items": {"tea": 2}})
    assert answer == {
        "status": 200,
        "order": {"lines": [{"sku": "tea", "quantity": 2, "price": "4.50 EUR"}], "total": "9.00 EUR"},
    }


def test_out_of_stock_is_a_conflict():
    assert handle(make_shop(), {"action": "order", "items": {"tea": 9}})["status"] == 409
""",
    "docs/usage.md": "# Using the shop\n\nStock items with `Shop.stock`, then `Shop.place_order`.\n",
    "docs/architecture.md": (
        "# Architecture\n\nmoney -> models -> inventory/service -> serializers/api\n"
    ),
    "CHANGELOG.md": "# Changelog\n\n## 0.1.0\n\n- Orders, stock and a request handler.\n",
    "tests/test_inventory.py": """import pytest

from shop.inventory import Inventory, OutOfStock


def test_reserving_takes_from_the_stock():
    inventory = Inventory()
    inventory.add("tea", 3)
    inventory.reserve("tea", 2)
    assert inventory.stock == {"tea": 1}


def test_no_reservation_beyond_the_stock():
    inventory = Inventory()
    with pytest.raises(OutOfStock):
        inventory.reserve("tea", 1)
""",
    # Written only in the conflicts demo, where 'models' owns the package docstring and
    # 'docs' owns the README (see CONFLICTS_MORE_FILES below).
    "src/shop/__init__.py": '"""A tiny shop: money, items, orders, stock and a request handler."""\n',
    "README.md": (
        "# shop\n\nA tiny shop used by the tui-orch demo.\n\n"
        "How to use it: docs/usage.md. What changed: CHANGELOG.md.\n"
    ),
}

Task = tuple[str, str, list[str], list[str]]  # (id, title, files, depends_on)

# The demo: three tasks side by side, then 'service' (needing 'models' and 'stock'), then
# 'api': five tasks, thirteen files.
DEMO_TASKS: list[Task] = [
    (
        "models",
        "Money and order models",
        ["src/shop/money.py", "src/shop/models.py", "tests/test_models.py"],
        [],
    ),
    ("docs", "User documentation", ["docs/usage.md", "docs/architecture.md", "CHANGELOG.md"], []),
    ("stock", "Stock levels", ["src/shop/inventory.py", "tests/test_inventory.py"], []),
    (
        "service",
        "Ordering against the stock",
        ["src/shop/service.py", "tests/test_service.py"],
        ["models", "stock"],
    ),
    (
        "api",
        "Request handler",
        ["src/shop/serializers.py", "src/shop/api.py", "tests/test_api.py"],
        ["service"],
    ),
]

# A smaller plan, two tasks side by side, then a chain: four tasks, twelve files. The UI
# tests run it (their assertions name its tasks and batches).
TWO_LANE_TASKS: list[Task] = [
    DEMO_TASKS[0],
    DEMO_TASKS[1],
    (
        "service",
        "Stock and ordering",
        ["src/shop/inventory.py", "src/shop/service.py", "tests/test_service.py"],
        ["models"],
    ),
    DEMO_TASKS[4],
]


# The conflicts demo (`tui-orch demo --conflicts`): the same plan, with agents that collide.
# 'stock' also edits the README, which 'docs' owns: an ownership conflict (blocked) and an
# overlap (a warning); their changes are lines apart, so they merge cleanly if you let them.
# 'models' and 'docs' both rewrite the first line of the package's __init__.py, which
# 'models' owns: a predicted merge conflict (blocked), long before any merge.
CONFLICTS_MORE_FILES: dict[str, list[str]] = {  # written first, so the clashes show early
    "models": ["src/shop/__init__.py"],
    "docs": ["README.md"],
}
CONFLICTS_AGENT_OPTIONS: dict[str, list[str]] = {
    "stock": ["--edit-line", "README.md:1:# shop: items, orders and stock levels"],
    "docs": [
        "--edit-line",
        'src/shop/__init__.py:1:"""A tiny shop; docs/usage.md shows how to use it."""',
    ],
}
CONFLICTS_POLICY: dict[str, str] = {
    "unowned_edit": "block",
    "overlap": "warn",
    "predicted": "block",
    "interval": "1s",
}
