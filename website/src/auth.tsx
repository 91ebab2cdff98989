// Who is signed in, for every page: loaded once at start, updated on sign-in and sign-out.
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { currentUser, logIn, logOut, type User } from "./api/auth";
import { api } from "./api/client";
import { SIGNED_OUT_EVENT } from "./api/errors";

interface Auth {
  user: User | null;
  /** True until the first check of the auth cookie has answered. */
  checking: boolean;
  signIn: (email: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [checking, setChecking] = useState(true);

  useEffect(() => {
    void currentUser(api)
      .then(setUser)
      .catch(() => setUser(null))
      .finally(() => setChecking(false));
    const signedOut = () => setUser(null);
    window.addEventListener(SIGNED_OUT_EVENT, signedOut);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, signedOut);
  }, []);

  const value: Auth = {
    user,
    checking,
    signIn: async (email, password) => setUser(await logIn(api, email, password)),
    signOut: async () => {
      try {
        await logOut(api);
      } catch {
        // Already signed out on the server: nothing left to do.
      }
      setUser(null);
    },
  };
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** The signed-in user and the sign-in actions. */
export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}
