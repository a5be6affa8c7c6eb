//! The KPI report (native only).
