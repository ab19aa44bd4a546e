import { lazy, Suspense } from "react";
import { Link, NavLink, Route, Routes } from "react-router";
import { signOut } from "./api/client";
import { SignIn } from "./auth/SignIn";
import { useCan, useSession } from "./auth/session";
import { UnacknowledgedBadge } from "./alerts/Badge";
import { PortfolioPage } from "./portfolio/PortfolioPage";
import { SearchBox } from "./search/SearchBox";
import { t } from "./strings";
import { Loading } from "./ui/Status";

// Screens other than the first load on demand, so the first screen's JavaScript stays small.
const PropertyPage = lazy(() => import("./property/PropertyPage"));
const AlertsPage = lazy(() => import("./alerts/AlertsPage"));
const RulesPage = lazy(() => import("./rules/RulesPage"));
const AdminPage = lazy(() => import("./admin/AdminPage"));

export function App() {
  const { me, loading, ended } = useSession();
  const can = useCan();
  if (loading) return <Loading />;
  if (!me) return <SignIn ended={ended} />;
  return (
    <>
      <a className="skip" href="#main">
        {t.skipToContent}
      </a>
      <header className="top">
        <Link to="/" className="brand">
          {t.app}
        </Link>
        <nav aria-label={t.nav.label}>
          <NavLink to="/" end>
            {t.nav.portfolio}
          </NavLink>
          <NavLink to="/alerts">
            {t.nav.alerts} <UnacknowledgedBadge />
          </NavLink>
          <NavLink to="/rules">{t.nav.rules}</NavLink>
          {can.admin && <NavLink to="/admin">{t.nav.admin}</NavLink>}
        </nav>
        <SearchBox />
        <div className="who">
          <span className="muted">{t.nav.signedInAs(me.email ?? "", me.organization, me.role)}</span>
          <button type="button" onClick={() => void signOut()}>
            {t.nav.signOut}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          <Routes>
            <Route path="/" element={<PortfolioPage />} />
            <Route path="/portfolios/:id" element={<PortfolioPage />} />
            <Route path="/property/:bbl" element={<PropertyPage />} />
            <Route path="/alerts" element={<AlertsPage />} />
            <Route path="/rules" element={<RulesPage />} />
            <Route path="/rules/:id" element={<RulesPage />} />
            <Route path="/admin" element={<AdminPage />} />
            <Route
              path="*"
              element={
                <p>
                  {t.common.notFound} <Link to="/">{t.common.backHome}</Link>
                </p>
              }
            />
          </Routes>
        </Suspense>
      </main>
    </>
  );
}
