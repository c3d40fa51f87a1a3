"""The hyperparameters themselves: one `Param` per name (type, default, allowed values, help, group),
in the order of the table in docs/hyperparameters.md. Parsing, layering and coercion live in
core/hyperparameters.py, which re-exports these names."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .values import check_catalog_types, check_date_formats, check_filter_values, check_filters

DEFAULT_NON_PRODUCT_CODES = (
    "POST", "DOT", "M", "m", "D", "C2", "C3", "S", "B", "CRUK", "PADS",
    "BANK CHARGES", "AMAZONFEE", "ADJUST", "ADJUST2", "TEST001", "TEST002",
)
RANKING_TYPES = ("incident", "count", "total_qty", "normalize_count", "log_qty")
DELIMITERS = ("", ",", ";", "|", "\t", "tab")
CANCELLATION_RULES = ("auto", "c_prefix", "none")
WEIGHTINGS = ("none", "log", "tfidf", "bm25")
EVAL_PROTOCOLS = ("time_window", "last_basket")
ALIASES = {"max_iter": "max_itter"}
AUTO = "auto"
BLEND_SIGNALS = ("trending", "recent", "popularity")
BLEND_MAX = 10.0  # the largest blend weight (hyperparameter and request field)


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # int | float | auto_float (a float, or "auto") | bool | str | date | list
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    group: str = "model"
    check: Callable[[Any], None] | None = None  # raises ValueError(reason) for a value of the right type

    def allowed(self) -> str:
        if self.choices is not None:
            shown = ["(empty)" if c == "" else repr(c) if c == "\t" else c for c in self.choices]
            return "one of " + ", ".join(str(c) for c in shown)
        if self.type == "date":
            return "a date YYYYMMDD, or empty for the last date in the data"
        if self.type == "bool":
            return "true or false"
        if self.type == "list":
            return "a JSON list of strings or a comma-separated string"
        lo = "-inf" if self.min is None else _num(self.min)
        hi = "inf" if self.max is None else _num(self.max)
        kind = "an integer" if self.type == "int" else "a number" if self.type in ("float", "auto_float") else "text"
        auto = "auto, or " if self.type == "auto_float" else ""
        if self.min is None and self.max is None:
            return auto + kind
        return f"{auto}{kind} in [{lo}, {hi}]"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


SCHEMA: tuple[Param, ...] = (
    # --- the model --------------------------------------------------------
    Param("ranking_type", "str", "count",
          "How purchases become one rating per (customer, product): incident = 1 per pair, "
          "count = purchase lines, total_qty = summed quantity, normalize_count = count / product's "
          "mean count, log_qty = log(1 + summed quantity).", choices=RANKING_TYPES),
    Param("recency_half_life_days", "auto_float", AUTO,
          "Weight each purchase line by 0.5^(age/half-life) before aggregating; 0 disables. auto = chosen on "
          "the held-out data among off and a few half-lives (off unless the data has a trend and a half-life "
          "beats off beyond noise; off when eval_days=0): docs/trends.md.",
          min=0, max=3650),
    Param("weighting", "str", "none",
          "Confidence weighting of the customer x product ratings before the fit (implicit ALS): none, "
          "log = log(1 + rating), tfidf / bm25 = the `implicit` library's tfidf_weight / bm25_weight of the "
          "customer x product matrix (best sellers and heavy buyers' lines weigh less); rescaled to the "
          "ratings' mean, so alpha keeps its scale.",
          choices=WEIGHTINGS),
    Param("bm25_k1", "float", 100.0, "BM25 K1 (weighting=bm25): how fast a rating's weight saturates.",
          min=0, max=1e6),
    Param("bm25_b", "float", 0.8, "BM25 B (weighting=bm25): how much a customer's ratings are normalised "
          "by their total (0 = not at all).", min=0, max=1),
    Param("implicit_prefs", "bool", True,
          "Implicit-feedback ALS (ratings are confidences). false = explicit ALS on the ratings."),
    Param("als_rank", "int", 16, "Number of latent factors.", min=1, max=1000),
    Param("max_itter", "int", 15, "ALS iterations (`max_iter` is accepted too).", min=1, max=200),
    Param("reg_param", "float", 0.1, "ALS regularisation (scaled by each row's rating count, as in Spark).",
          min=0, max=1e6),
    Param("alpha", "float", 5.0, "Implicit ALS confidence: c = 1 + alpha * rating.", min=0, max=1e6),
    Param("als_fits", "int", 0,
          "Fit ALS this many times (seeds seed + k x 1000003; at once, in one Spark session) and average "
          "their scores: the model stores the fits' factors side by side (als_rank x als_fits columns). "
          "Averaging cancels much of the random initialisation's effect, which on small data moves NDCG@10 "
          "as much as a setting does. 0 = auto: 4 below 200,000 ratings (there the fits' small Spark jobs "
          "overlap: 4 fits take ~1.7x one), else 1 (each fit costs its full work).", min=0, max=16),
    Param("nonnegative", "bool", False, "Constrain factors to be non-negative."),
    Param("seed", "int", 42, "Random seed for ALS initialisation.", min=0, max=2**31 - 1),
    Param("num_blocks", "int", 0,
          "Spark ALS user/item blocks; 0 = auto: one per core below 1M ratings (fastest on small data), "
          "else one per full 2M ratings, at most 10 and at least one per core.",
          min=0, max=10000),
    Param("checkpoint_interval", "int", 10, "Checkpoint every N iterations (long runs).", min=1, max=1000),
    Param("spark_master", "str", "",
          "Attach to an existing Spark cluster (spark://host:7077, yarn) instead of local Spark; empty = "
          "the SPARK_MASTER environment variable, else local (one host) or the job's own cluster (several).",
          group="cluster"),
    # --- trends: what is selling now ------------------------------------------
    Param("trend_window_days", "int", 7,
          "Trending: each product's distinct buyers in the last N days against the N days before; also the "
          "window of the recent best sellers.", min=1, max=365, group="trends"),
    Param("trend_min_support", "int", 5,
          "Trending: a product needs at least this many distinct buyers in the last trend_window_days to "
          "trend.", min=1, max=10**6, group="trends"),
    Param("blend_weight", "auto_float", AUTO,
          "Final score = ALS score + weight x blend_signal (normalised to [0, 1]); 0 = the ALS scores alone. "
          "auto = chosen on the held-out data (0 unless it beats the ALS alone beyond noise; 0 when "
          "eval_days=0). Requests may override it (`blend`).", min=0, max=BLEND_MAX, group="trends"),
    Param("blend_signal", "str", AUTO,
          "What the blend adds: trending, recent (best sellers of the last trend_window_days), popularity "
          "(all-time best sellers); auto = the one that scores best with its weight on the held-out data.",
          choices=(AUTO,) + BLEND_SIGNALS, group="trends"),
    # --- dates and cold start ----------------------------------------------
    Param("retention_date", "date", "",
          "The model's as-of date (YYYYMMDD); data after it is ignored. Empty = last date in the data.",
          group="dates"),
    Param("retention_days", "int", 30,
          "Products and customers first seen within this many days before retention_date are new.",
          min=0, max=36500, group="dates"),
    Param("eval_days", "int", 3,
          "Hold out the last N days to score the model against the baselines and choose the auto settings "
          "(recency_half_life_days, blend_weight); when they hold fewer than 100 test customers the window is "
          "widened, or each customer's last basket held out instead (logged, in metadata.json). 0 = no "
          "evaluation (the auto settings are then off).",
          min=0, max=3650, group="dates"),
    Param("eval_k", "int", 10, "Cut-off K for the evaluation metrics.", min=1, max=1000, group="dates"),
    Param("eval_protocol", "str", "time_window",
          "What is held out: time_window = the last eval_days days; last_basket = each customer's last "
          "invoice (customers with at least 2; the last purchase day when the data has no invoice column). "
          "eval_days=0 turns evaluation off under either.", choices=EVAL_PROTOCOLS, group="dates"),
    Param("tune", "bool", False,
          "Search alpha, reg_param, als_rank, max_itter and weighting on the held-out data (eval_protocol) "
          "within tune_budget_seconds, then fit the best setting on all data. Needs eval_days > 0.",
          group="tuning"),
    Param("tune_budget_seconds", "int", 180,
          "Time budget of the tune search (its trials; the final fit comes on top): no trial is started "
          "that would end past it, as estimated from the trials so far.", min=1, max=7 * 86400, group="tuning"),
    Param("tune_trials", "int", 40, "Most trials the tune search runs (the first is the given setting).",
          min=1, max=10000, group="tuning"),
    # --- input --------------------------------------------------------------
    Param("input_uri", "str", "",
          "Read the training data with Spark from this URI (s3a://, hdfs://, file://; CSV with a header row, "
          "or Parquet) instead of the training channel; empty = the channel.", group="input"),
    Param("customer_column", "str", "", "Customer id column; empty = detect.", group="input"),
    Param("product_column", "str", "", "Product id column; empty = detect.", group="input"),
    Param("quantity_column", "str", "", "Quantity column; empty = detect (missing = 1 per line).",
          group="input"),
    Param("date_column", "str", "", "Date column; empty = detect.", group="input"),
    Param("invoice_column", "str", "", "Invoice column (see cancellation_rule); empty = detect.",
          group="input"),
    Param("cancellation_rule", "str", "auto",
          "Which invoice ids are cancellations (dropped, counted as cancelled): auto = C followed by digits "
          "only (UCI C536379; CA-2016-152156 is an order), c_prefix = any id starting with C, none = no id. "
          "Negative quantities are dropped in any case.", choices=CANCELLATION_RULES, group="input"),
    Param("delimiter", "str", "", "Field delimiter; empty = detect among , ; | and tab.",
          choices=DELIMITERS, group="input"),
    Param("date_format", "list", [],
          "strptime format(s) of the date column, tried in order (e.g. %m/%d/%y %H:%M, or "
          "[\"%d/%m/%Y %H:%M\", \"%d/%m/%y\"]; a format containing a comma must be in a JSON list), or "
          "ISO8601; offsets (%z, Z) are converted to UTC. Empty = detect, per file, from a sample: the "
          "formats that together parse it, day-first or month-first decided once per column.",
          group="input", check=check_date_formats),
    Param("non_product_codes", "list", list(DEFAULT_NON_PRODUCT_CODES),
          "Product codes that are not products (postage, fees, adjustments) and are dropped.",
          group="input"),
    Param("max_malformed_rows", "int", 100,
          "Rows that cannot be parsed are skipped up to this many; more fails the job.",
          min=0, max=10**9, group="input"),
    # --- the events channel (docs/live.md) -----------------------------------
    Param("event_weight_view", "int", 1,
          "Events channel: purchase lines one `view` event counts as (0 = views are ignored).",
          min=0, max=100, group="events"),
    Param("event_weight_add_to_cart", "int", 2,
          "Events channel: purchase lines one `add_to_cart` counts as; a `remove_from_cart` takes as many away.",
          min=0, max=100, group="events"),
    Param("event_weight_purchase", "int", 4,
          "Events channel: purchase lines one `purchase` event counts as (0 when the sales history already holds "
          "the web shop's orders).", min=0, max=100, group="events"),
    Param("events_anonymous", "bool", True,
          "Events channel: learn from anonymous visits too (each a customer `session:<id>` of its own); false = "
          "signed-in shoppers' events only.", group="events"),
    # --- output and serving defaults ------------------------------------------
    Param("reco_item", "int", 10, "Default number of recommendations (N) per customer.",
          min=1, max=1000, group="serving"),
    Param("group_size", "int", 10000, "Customers per block when batch-scoring everyone.",
          min=1, max=10**7, group="serving"),
    Param("similar_items", "bool", True, "Write output/data/similar_items.csv (top-N similar products for "
          "every product; its cost grows with the square of the catalogue: ~30 s at 100k products).",
          group="serving"),
    Param("exclude_purchased", "bool", True, "Default rule: never recommend what a customer already bought.",
          group="serving"),
    Param("exclude_popular", "int", 0, "Default rule: exclude the top-P best sellers.", min=0, max=10**6,
          group="serving"),
    Param("include_new", "int", 0, "Default rule: force up to M new products into each list.",
          min=0, max=1000, group="serving"),
    # --- the catalogue: attributes, filters, exploration, new products ------------------------
    Param("catalog_types", "str", "",
          "The kinds of the catalog channel's attributes, as a JSON object ({\"tags\": \"list\", \"code\": "
          "\"string\"}; kinds: string, list, number, bool, date); empty = inferred from the values.",
          group="catalog", check=check_catalog_types),
    Param("filters", "str", "",
          "Named filters, a JSON object {\"name\": \"EXCLUDE ItemID WHERE ...\"}: a request's filter may "
          "give a name instead of the expression (docs/catalog.md).", group="catalog", check=check_filters),
    Param("batch_filter", "str", "",
          "A filter (expression or name) applied to output/data/recommendations.csv; empty = none.",
          group="catalog"),
    Param("batch_filter_values", "str", "",
          "The batch filter's $values, a JSON object ({\"cats\": [\"toys\"]}).", group="catalog",
          check=check_filter_values),
    Param("exploration_weight", "float", 0.0,
          "Default share of each list given to new products (never sold, or first seen within "
          "exploration_item_age_days), drawn among the best-scoring ones; a request may set its own.",
          min=0, max=1, group="catalog"),
    Param("exploration_item_age_days", "int", 30,
          "Products first seen at most this many days before the model's as-of date count as new for "
          "exploration (never-sold products always do).", min=0, max=36500, group="catalog"),
    Param("placement", "bool", True,
          "Give new products (in the catalog channel, never sold) item factors from their attributes "
          "(a ridge regression on the sold products' factors); false = the mean factor.", group="catalog"),
    Param("placement_features", "int", 2048,
          "Most attribute features (name words, categories, tags, price bands) the placement uses.",
          min=1, max=100_000, group="catalog"),
)
BY_NAME = {p.name: p for p in SCHEMA}
