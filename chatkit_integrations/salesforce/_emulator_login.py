"""The Salesforce emulator's login: the SOAP login and the OAuth ``userinfo`` endpoint."""

from __future__ import annotations

import html
import re
import secrets

from chatkit._optional import missing

try:
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
except ImportError as exc:
    raise missing("starlette", "the Salesforce emulator", exc) from exc

from ._emulator_http import _XML, _HTTPBase
from ._state import Call


def _xml_value(body: str, tag: str) -> str | None:
    found = re.search(rf"<(?:\w+:)?{tag}>(.*?)</(?:\w+:)?{tag}>", body, re.DOTALL)
    return html.unescape(found.group(1)) if found else None


_LOGIN_OK = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<soapenv:Body><loginResponse><result>"
    "<metadataServerUrl>{base}/services/Soap/m/{version}/{org}</metadataServerUrl>"
    "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
    "<serverUrl>{base}/services/Soap/u/{version}/{org}</serverUrl>"
    "<sessionId>{session}</sessionId><userId>{user}</userId>"
    "<userInfo><organizationId>{org}</organizationId><userFullName>{name}</userFullName>"
    "<userId>{user}</userId><userName>{username}</userName></userInfo>"
    "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
)
_LOGIN_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:sf="urn:fault.partner.soap.sforce.com" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
    "<faultcode>INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, "
    "password, security token; or user locked out.</faultstring><detail>"
    '<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>'
    "<sf:exceptionMessage>Invalid username, password, security token; or user locked out."
    "</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body>"
    "</soapenv:Envelope>"
)


class _LoginRoutes(_HTTPBase):
    """The login endpoints of `SalesforceEmulator` (outside ``/services/data``)."""

    username: str
    _password: str
    _security_token: str

    async def _login(self, request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        username = _xml_value(body, "username")
        password = _xml_value(body, "password")
        version = request.path_params["version"]
        expected = self._password + self._security_token
        ok = (
            username is not None
            and password is not None
            and secrets.compare_digest(username, self.username)
            and secrets.compare_digest(password.encode(), expected.encode())
        )
        if not ok:
            self.state.record_call(Call("POST", request.url.path, "login", 500, api=False))
            return Response(_LOGIN_FAULT, 500, headers=self._headers(error=True), media_type=_XML)
        token = self.state.new_session()
        self.state.record_call(Call("POST", request.url.path, "login", 200, api=False))
        base = f"{request.url.scheme}://{request.url.netloc}"
        user = self.state.get("User", self.state.api_user_id)
        xml = _LOGIN_OK.format(
            base=base,
            version=html.escape(version),
            org=self.state.org_id,
            session=html.escape(token),
            user=user["Id"],
            username=html.escape(user["Username"]),
            name=html.escape(user["Name"]),
        )
        return Response(xml, 200, headers=self._headers(), media_type=_XML)

    async def _userinfo(self, request: Request) -> Response:
        user_id = self._user(request)
        status = 200 if user_id is not None else 401
        self.state.record_call(
            Call(request.method, request.url.path, "userinfo", status, api=False)
        )
        if user_id is None:
            return JSONResponse(
                {"error": "invalid_token", "error_description": "Access token is invalid"},
                401,
                headers=self._headers(error=True),
            )
        user = self.state.get("User", user_id)
        org = self.state.org_id
        return JSONResponse(
            {
                "sub": f"https://login.salesforce.com/id/{org}/{user_id}",
                "user_id": user_id,
                "organization_id": org,
                "preferred_username": user["Username"],
                "name": user["Name"],
                "email": user["Email"],
                "active": True,
                "user_type": "STANDARD",
            },
            headers=self._headers(),
        )
