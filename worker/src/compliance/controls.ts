/** The frameworks and controls the report's evidence supports, named once. */
export type Framework = "PCI DSS v4.0 SAQ A" | "PCI DSS v4.0" | "NIST SP 800-53 Rev. 5";

export interface ControlRef {
  framework: Framework;
  id: string;
  title: string;
}

const saqA = (id: string, title: string): ControlRef => ({ framework: "PCI DSS v4.0 SAQ A", id, title });
const pci = (id: string, title: string): ControlRef => ({ framework: "PCI DSS v4.0", id, title });
const nist = (id: string, title: string): ControlRef => ({ framework: "NIST SP 800-53 Rev. 5", id, title });

export const CONTROLS = {
  saqA_eligibility: saqA("Eligibility", "No electronic storage, processing or transmission of account data on the merchant's systems"),
  saqA_3_1_1: saqA("3.1.1", "Policies for protecting stored account data are in place"),
  saqA_8_3_9: saqA("8.3.9", "Passwords/passphrases used as the only factor are changed at least every 90 days"),
  saqA_12_10_1: saqA("12.10.1", "An incident response plan exists, including business recovery and continuity"),
  pci_3_2_1: pci("3.2.1", "Account data storage is kept to a minimum"),
  pci_3_7_4: pci("3.7.4", "Cryptographic keys are changed at the end of their cryptoperiod"),
  pci_4_2_1: pci("4.2.1", "Strong cryptography protects account data in transit over open networks"),
  pci_8_6_3: pci("8.6.3", "Passwords for application and system accounts are changed periodically"),
  pci_10_3_2: pci("10.3.2", "Audit log files are protected from modification"),
  pci_8_3_4: pci("8.3.4", "Invalid authentication attempts are limited"),
  au9: nist("AU-9", "Protection of Audit Information"),
  au9_3: nist("AU-9(3)", "Protection of Audit Information | Cryptographic Protection"),
  au10: nist("AU-10", "Non-repudiation"),
  ia5: nist("IA-5(1)", "Authenticator Management | Password-based Authentication (lifetime restrictions)"),
  sc5: nist("SC-5", "Denial-of-service Protection"),
  ac7: nist("AC-7", "Unsuccessful Logon Attempts"),
  ac3: nist("AC-3", "Access Enforcement"),
  ac6: nist("AC-6", "Least Privilege"),
  sc8: nist("SC-8", "Transmission Confidentiality and Integrity"),
  sc12: nist("SC-12", "Cryptographic Key Establishment and Management"),
  sc13: nist("SC-13", "Cryptographic Protection"),
  sc28: nist("SC-28", "Protection of Information at Rest"),
  si7: nist("SI-7", "Software, Firmware, and Information Integrity"),
  si4: nist("SI-4", "System Monitoring"),
  si12: nist("SI-12", "Information Management and Retention"),
  cp9: nist("CP-9", "System Backup"),
  cp10: nist("CP-10", "System Recovery and Reconstitution"),
  ir4: nist("IR-4", "Incident Handling"),
} as const satisfies Record<string, ControlRef>;
